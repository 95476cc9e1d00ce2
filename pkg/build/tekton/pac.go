package tekton

import (
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"

	"github.com/release-to-prod/release-to-prod/pkg/step"
)

// PaCDir holds the Pipelines-as-Code PipelineRuns a team copies into its component repository's
// .tekton/ folder. They are not in this repository's .tekton/: PaC would run them on this
// repository's own pushes.
const PaCDir = "pac"

// PaCRunFiles lists the PipelineRun templates under root's PaCDir.
func PaCRunFiles(root string) ([]string, error) {
	files, err := filepath.Glob(filepath.Join(root, PaCDir, "*.yaml"))
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", PaCDir, err)
	}
	return files, nil
}

// pacVariable matches a Pipelines-as-Code variable ({{ revision }}), as PaC substitutes them.
var pacVariable = regexp.MustCompile(`{{\s*([A-Za-z0-9_.]+)\s*}}`)

// PaCVariables returns the PaC variables s uses, by name.
func PaCVariables(s string) []string {
	var names []string
	for _, m := range pacVariable.FindAllStringSubmatch(s, -1) {
		names = append(names, m[1])
	}
	return names
}

// RenderPaC substitutes the PaC variables of a .tekton/ template as Pipelines-as-Code does
// before it decodes the file: every {{ name }} that vars names is replaced by its value in the
// text; the others are left as they are.
func RenderPaC(template string, vars map[string]string) string {
	return pacVariable.ReplaceAllStringFunc(template, func(m string) string {
		if v, ok := vars[pacVariable.FindStringSubmatch(m)[1]]; ok {
			return v
		}
		return m
	})
}

// CheckPaCRun checks where a Pipelines-as-Code run, meant to live in a component's repository,
// fetches its Pipeline, and that its placeholders are documented:
//
//   - by the git resolver, from a fixed url at a pinned revision. {{ repo_url }} and
//     {{ revision }} are the repository and commit that triggered the run — the component's, where
//     no release-to-prod Pipeline exists — so no PaC variable may appear in url or revision (an
//     unset url or revision would fall back to the resolver's defaults: the catalog on main);
//   - or by the bundles resolver, from a bundle pinned by digest;
//   - never embedded or by name: a tenant installs no Pipeline.
//
// Every param whose value is a placeholder (step.IsPlaceholder) must be named in the file's
// comments (raw is the file), so that the one comment block lists what a team must set.
func CheckPaCRun(pr *v1.PipelineRun, raw []byte) error {
	var errs []error
	ref := pr.Spec.PipelineRef
	params := map[string]string{}
	if ref != nil {
		for _, p := range ref.Params {
			params[p.Name] = p.Value.StringVal
		}
	}
	switch {
	case ref == nil || ref.Resolver == "":
		errs = append(errs, errors.New("spec.pipelineRef must fetch the Pipeline with a resolver (git at a pinned revision, or bundles by digest): a tenant installs no Pipeline, and PaC would have to find it in the component's repository"))
	case ref.Resolver == "git":
		for _, name := range []string{"url", "revision"} {
			v, ok := params[name]
			switch vars := PaCVariables(v); {
			case !ok || strings.TrimSpace(v) == "":
				errs = append(errs, fmt.Errorf("pipelineRef param %s is not set: the git resolver would use its default (the Tekton catalog, main), not a pinned release-to-prod", name))
			case len(vars) > 0:
				errs = append(errs, fmt.Errorf("pipelineRef param %s is %q: in Pipelines-as-Code {{ %s }} is the component's repository or commit that triggered the run, where the release-to-prod Pipeline does not exist; name this project's repository and a pinned tag or commit", name, v, vars[0]))
			}
		}
		if rev := params["revision"]; rev == "main" || rev == "master" || rev == "HEAD" {
			errs = append(errs, fmt.Errorf("pipelineRef param revision is %q, a moving branch: pin a tag or a commit, so that a release of release-to-prod reaches a component when its team changes that line", rev))
		}
	case ref.Resolver == "bundles":
		if b := params["bundle"]; !strings.Contains(b, "@sha256:") || len(PaCVariables(b)) > 0 {
			errs = append(errs, fmt.Errorf("pipelineRef param bundle is %q: pin the bundle by digest (…@sha256:…)", b))
		}
	default:
		errs = append(errs, fmt.Errorf("spec.pipelineRef uses the %s resolver: fetch the Pipeline with git (pinned revision) or bundles (by digest)", ref.Resolver))
	}
	comments := commentLines(raw)
	for _, name := range PaCPlaceholders(pr) {
		if !slices.ContainsFunc(comments, func(c string) bool { return strings.HasPrefix(strings.TrimSpace(c)+" ", name+" ") }) {
			errs = append(errs, fmt.Errorf("param %s is a placeholder (%q) but no comment line starts with its name: list every placeholder in the comment block", name, paramValue(pr, name)))
		}
	}
	return errors.Join(errs...)
}

// PaCPlaceholders returns the params of pr whose values are placeholders, in order.
func PaCPlaceholders(pr *v1.PipelineRun) []string {
	var names []string
	for _, p := range pr.Spec.Params {
		if step.IsPlaceholder(p.Value.StringVal) {
			names = append(names, p.Name)
		}
	}
	return names
}

func paramValue(pr *v1.PipelineRun, name string) string {
	for _, p := range pr.Spec.Params {
		if p.Name == name {
			return p.Value.StringVal
		}
	}
	return ""
}

// commentLines returns the text after '#' of each whole-line comment of a YAML file.
func commentLines(raw []byte) []string {
	var out []string
	for _, line := range strings.Split(string(raw), "\n") {
		if t := strings.TrimSpace(line); strings.HasPrefix(t, "#") {
			out = append(out, strings.TrimPrefix(t, "#"))
		}
	}
	return out
}
