package tekton

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	"sigs.k8s.io/yaml"
)

// pacRun is a PaC run that fetches the Pipeline as ref says, with params and comment.
func pacRun(ref, params, comment string) string {
	return comment + "apiVersion: tekton.dev/v1\nkind: PipelineRun\nmetadata: {name: r}\nspec:\n" + ref + "  params:\n" + params
}

const (
	gitRef = `  pipelineRef:
    resolver: git
    params:
      - {name: url, value: "URL"}
      - {name: revision, value: "REV"}
      - {name: pathInRepo, value: pipelines/release-to-prod/0.1/release-to-prod.yaml}
`
	okParams = "    - {name: commit_sha, value: \"{{ revision }}\"}\n"
)

func TestCheckPaCRun(t *testing.T) {
	pinned := strings.NewReplacer("URL", "https://github.com/release-to-prod/release-to-prod", "REV", "v0.1.0").Replace(gitRef)
	for _, tc := range []struct {
		name, yaml string
		errs       []string // substrings; none: valid
	}{
		{name: "git at a pinned tag", yaml: pacRun(pinned, okParams, "")},
		{name: "git at a pinned commit", yaml: pacRun(strings.Replace(pinned, "v0.1.0", "3f786850e387550fdab836ed7e6dc881de23001b", 1), okParams, "")},
		{name: "the component's repository and commit",
			yaml: pacRun(strings.NewReplacer("URL", "{{ repo_url }}", "REV", "{{ revision }}").Replace(gitRef), okParams, ""),
			errs: []string{`url is "{{ repo_url }}"`, `revision is "{{ revision }}"`, "the component's repository or commit"}},
		{name: "pinned url, triggering commit", yaml: pacRun(strings.Replace(pinned, "v0.1.0", "{{revision}}", 1), okParams, ""),
			errs: []string{`revision is "{{revision}}"`}},
		{name: "a moving branch", yaml: pacRun(strings.Replace(pinned, "v0.1.0", "main", 1), okParams, ""),
			errs: []string{`revision is "main", a moving branch`}},
		{name: "no revision", yaml: pacRun(strings.Replace(pinned, "      - {name: revision, value: \"v0.1.0\"}\n", "", 1), okParams, ""),
			errs: []string{"revision is not set"}},
		{name: "bundle by digest", yaml: pacRun("  pipelineRef:\n    resolver: bundles\n    params:\n      - {name: bundle, value: quay.io/r/pipeline-release-to-prod:0.1@sha256:"+strings.Repeat("a", 64)+"}\n", okParams, "")},
		{name: "bundle by tag", yaml: pacRun("  pipelineRef:\n    resolver: bundles\n    params:\n      - {name: bundle, value: quay.io/r/pipeline-release-to-prod:0.1}\n", okParams, ""),
			errs: []string{"pin the bundle by digest"}},
		{name: "by name", yaml: pacRun("  pipelineRef: {name: release-to-prod}\n", okParams, ""), errs: []string{"with a resolver"}},
		{name: "placeholders listed", yaml: pacRun(pinned, okParams+"    - {name: saas_file, value: \"<the SaaS file>\"}\n", "# PLACEHOLDERS:\n#   saas_file  the SaaS file\n")},
		{name: "placeholder not listed", yaml: pacRun(pinned, okParams+"    - {name: saas_file, value: \"<the SaaS file>\"}\n", "# saas_files are great\n"),
			errs: []string{"param saas_file is a placeholder"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var pr v1.PipelineRun
			require.NoError(t, yaml.UnmarshalStrict([]byte(tc.yaml), &pr))
			err := CheckPaCRun(&pr, []byte(tc.yaml))
			if len(tc.errs) == 0 {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			for _, e := range tc.errs {
				assert.Contains(t, err.Error(), e)
			}
		})
	}
}

// The run shipped before issue 19 fetched the Pipeline from the triggering repository.
func TestCheckPaCRunRefusesTheOldRun(t *testing.T) {
	b, err := os.ReadFile("testdata/pac-run-from-repo-url.yaml")
	require.NoError(t, err)
	var pr v1.PipelineRun
	require.NoError(t, yaml.UnmarshalStrict(b, &pr))
	err = CheckPaCRun(&pr, b)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "url is \"{{ repo_url }}\"")
	assert.Contains(t, err.Error(), "revision is \"{{ revision }}\"")
}

func TestPaCVariables(t *testing.T) {
	assert.Equal(t, []string{"repo_url", "revision"}, PaCVariables("{{ repo_url }}/commit/{{revision}}"))
	assert.Empty(t, PaCVariables("$(params.x) {not} {{ }}"))
}

func TestRenderPaC(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"{{ revision }}", "3f78"},
		{"{{revision}}/{{  repo_url  }}", "3f78/https://github.com/o/r"},
		{"{{ unknown }} stays", "{{ unknown }} stays"},
		{"$(params.revision) {not}", "$(params.revision) {not}"},
	} {
		assert.Equal(t, tc.want, RenderPaC(tc.in, map[string]string{"revision": "3f78", "repo_url": "https://github.com/o/r"}), tc.in)
	}
}
