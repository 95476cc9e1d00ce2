// Package contract checks the repository's Tekton YAML against Tekton (decoded strictly,
// defaulted, validated and wired with tektoncd/pipeline's own code, see package tekton) and
// against the project's step contract (DESIGN.md §3, helper brief): no script, no secret in
// env, every param/result/workspace described, pinned project images, catalog metadata,
// compute resources, a restricted securityContext, and StepAction env that matches what the
// step binary reads.
package contract

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	"github.com/tektoncd/pipeline/pkg/apis/pipeline/v1beta1"
	corev1 "k8s.io/api/core/v1"
	"knative.dev/pkg/apis"
	"sigs.k8s.io/yaml"

	"github.com/release-to-prod/release-to-prod/pkg/alerts"
	"github.com/release-to-prod/release-to-prod/pkg/history"
	"github.com/release-to-prod/release-to-prod/pkg/image"
	"github.com/release-to-prod/release-to-prod/pkg/preflight"
	"github.com/release-to-prod/release-to-prod/pkg/quay"
	"github.com/release-to-prod/release-to-prod/pkg/release"
	"github.com/release-to-prod/release-to-prod/pkg/saasfile"
	"github.com/release-to-prod/release-to-prod/pkg/slack"
	"github.com/release-to-prod/release-to-prod/pkg/step"
	"github.com/release-to-prod/release-to-prod/pkg/tekton"
	"github.com/release-to-prod/release-to-prod/pkg/verdict"
)

// configs maps each step (image name = StepAction name) to the config struct its binary reads.
// Add a row with each new step.
var configs = map[string]any{
	"check-image":           &image.Config{},
	"check-alerts":          &alerts.Config{},
	"check-app-interface":   &saasfile.Config{},
	"notify":                &slack.Config{},
	"gate-verdict":          &verdict.Config{},
	"konflux-preflight":     &preflight.Config{},
	"create-release":        &release.Config{},
	"record-history":        &history.RecordConfig{},
	"check-vulnerabilities": &quay.Config{},
}

// notExposed are settings a StepAction may leave out: the output format stays the default
// (text) in a cluster, and KUBECONFIG is unset in a pod (in-cluster ServiceAccount) and set by
// the local runner.
var notExposed = map[string]bool{"LOG_FORMAT": true, "KUBECONFIG": true}

const root = "../.."

func load(t *testing.T) *tekton.Repo {
	t.Helper()
	repo, err := tekton.Load(root)
	require.NoError(t, err, "decoding the YAML strictly")
	require.NotEmpty(t, repo.StepActions)
	return repo
}

// TestTektonAcceptsTheRepository: every YAML decodes strictly, validates with Tekton's
// webhook code, resolves its StepActions, and every Pipeline is wired (result references,
// params, workspaces, DAG) as the PipelineRun reconciler checks it.
func TestTektonAcceptsTheRepository(t *testing.T) {
	repo := load(t)
	require.NoError(t, repo.Check(context.Background()))
}

// TestCriticalPath: at most 3 TaskRuns one after the other (DESIGN.md §6).
func TestCriticalPath(t *testing.T) {
	repo := load(t)
	p, ok := repo.Pipelines["release-to-prod"]
	require.True(t, ok, "pipelines/release-to-prod/0.1/release-to-prod.yaml")
	n, path, err := tekton.CriticalPath(&p.Spec)
	require.NoError(t, err)
	assert.LessOrEqual(t, n, 3, "critical path: %s", strings.Join(path, " → "))
}

// TestEveryStepActionHasATask: each gate is usable alone as its own Task.
func TestEveryStepActionHasATask(t *testing.T) {
	repo := load(t)
	for name := range repo.StepActions {
		if name == "gate-verdict" { // part of the pipeline's preflight, not a gate
			continue
		}
		_, ok := repo.Tasks[name]
		assert.True(t, ok, "StepAction %s has no Task tasks/%s/0.1/%s.yaml", name, name, name)
	}
}

var (
	catalogLabels      = []string{"app.kubernetes.io/version"}
	catalogAnnotations = []string{"tekton.dev/pipelines.minVersion", "tekton.dev/categories", "tekton.dev/tags", "tekton.dev/displayName", "tekton.dev/platforms"}
	pinnedImage        = regexp.MustCompile(`^quay\.io/release-to-prod/([a-z0-9-]+)(:[0-9]+\.[0-9]+\.[0-9]+(@sha256:[0-9a-f]{64})?|@sha256:[0-9a-f]{64})$`)
)

func TestStepActionContract(t *testing.T) {
	repo := load(t)
	for _, name := range tekton.Names(repo.StepActions) {
		sa := repo.StepActions[name]
		t.Run(name, func(t *testing.T) {
			var p problems
			p.catalog(sa.Labels, sa.Annotations)
			spec := sa.Spec
			if spec.Script != "" {
				p.add("uses script: (steps run their binary, configured by env)")
			}
			p.env(spec.Env, "env")
			p.image(spec.Image, name)
			p.securityContext(spec.SecurityContext)
			for _, ps := range spec.Params {
				p.described("param "+ps.Name, ps.Description)
			}
			for _, r := range spec.Results {
				p.described("result "+r.Name, r.Description)
			}
			p.report(t)
			envMatchesConfig(t, sa)
		})
	}
}

func TestTaskContract(t *testing.T) {
	repo := load(t)
	for _, name := range tekton.Names(repo.Tasks) {
		task := repo.Tasks[name]
		t.Run(name, func(t *testing.T) {
			var p problems
			p.catalog(task.Labels, task.Annotations)
			p.described("the Task", task.Spec.Description)
			p.taskSpec(&task.Spec)
			p.report(t)
		})
	}
}

func TestPipelineContract(t *testing.T) {
	repo := load(t)
	for _, name := range tekton.Names(repo.Pipelines) {
		pl := repo.Pipelines[name]
		t.Run(name, func(t *testing.T) {
			var p problems
			p.catalog(pl.Labels, pl.Annotations)
			p.described("the Pipeline", pl.Spec.Description)
			for _, ps := range pl.Spec.Params {
				p.described("param "+ps.Name, ps.Description)
			}
			for _, r := range pl.Spec.Results {
				p.described("result "+r.Name, r.Description)
			}
			for _, w := range pl.Spec.Workspaces {
				p.described("workspace "+w.Name, w.Description)
			}
			for _, pt := range append(append([]v1.PipelineTask{}, pl.Spec.Tasks...), pl.Spec.Finally...) {
				if pt.TaskSpec != nil {
					sub := problems{prefix: "task " + pt.Name + ": "}
					sub.taskSpec(&pt.TaskSpec.TaskSpec)
					p.list = append(p.list, sub.list...)
				}
			}
			p.report(t)
		})
	}
}

// envMatchesConfig: every env the StepAction sets is read by the binary, every setting the
// binary requires is set, and the settings left out (defaults apply) are listed in the log.
func envMatchesConfig(t *testing.T, sa *v1beta1.StepAction) {
	cfg, ok := configs[sa.Name]
	if !ok {
		t.Errorf("no config struct for step %s: add it to the configs table of test/contract (package pkg/<area>, field tags env:\"NAME\")", sa.Name)
		return
	}
	fields, err := step.EnvFields(cfg)
	require.NoError(t, err)
	read := map[string]step.Field{}
	for _, f := range fields {
		read[f.Env] = f
	}
	set := map[string]bool{}
	for _, e := range sa.Spec.Env {
		set[e.Name] = true
		if _, ok := read[e.Name]; !ok {
			t.Errorf("env %s is set by the StepAction but %T does not read it", e.Name, cfg)
		}
	}
	var left []string
	for _, f := range fields {
		switch {
		case set[f.Env] || notExposed[f.Env]:
		case f.Required:
			t.Errorf("%T requires %s but the StepAction does not set it", cfg, f.Env)
		default:
			left = append(left, f.Env)
		}
	}
	if len(left) > 0 {
		sort.Strings(left)
		t.Logf("settings left at their defaults (no param): %s", strings.Join(left, ", "))
	}
}

type problems struct {
	prefix string
	list   []string
}

func (p *problems) add(format string, args ...any) {
	p.list = append(p.list, p.prefix+fmt.Sprintf(format, args...))
}

func (p *problems) report(t *testing.T) {
	t.Helper()
	for _, s := range p.list {
		t.Error(s)
	}
}

func (p *problems) described(what, desc string) {
	if strings.TrimSpace(desc) == "" {
		p.add("%s has no description", what)
	}
}

func (p *problems) catalog(labels, annotations map[string]string) {
	for _, k := range catalogLabels {
		if labels[k] == "" {
			p.add("label %s missing", k)
		}
	}
	for _, k := range catalogAnnotations {
		if annotations[k] == "" {
			p.add("annotation %s missing", k)
		}
	}
}

func (p *problems) env(env []corev1.EnvVar, where string) {
	for _, e := range env {
		if e.ValueFrom != nil {
			p.add("%s %s uses valueFrom: secrets come as files from workspaces, settings as params", where, e.Name)
		}
	}
}

func (p *problems) image(img, name string) {
	m := pinnedImage.FindStringSubmatch(img)
	switch {
	case m == nil:
		p.add("image %q is not quay.io/release-to-prod/<step>:<x.y.z> or pinned by digest", img)
	case name != "" && m[1] != name:
		p.add("image %q is not the image of step %s", img, name)
	}
}

func (p *problems) securityContext(sc *corev1.SecurityContext) {
	if sc == nil {
		p.add("no securityContext")
		return
	}
	if sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot {
		p.add("securityContext.runAsNonRoot is not true")
	}
	if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		p.add("securityContext.readOnlyRootFilesystem is not true")
	}
	if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		p.add("securityContext.allowPrivilegeEscalation is not false")
	}
	drops := false
	if sc.Capabilities != nil {
		for _, c := range sc.Capabilities.Drop {
			drops = drops || c == "ALL"
		}
	}
	if !drops {
		p.add("securityContext.capabilities.drop does not hold ALL")
	}
}

func (p *problems) taskSpec(ts *v1.TaskSpec) {
	for _, ps := range ts.Params {
		p.described("param "+ps.Name, ps.Description)
	}
	for _, r := range ts.Results {
		p.described("result "+r.Name, r.Description)
	}
	for _, w := range ts.Workspaces {
		p.described("workspace "+w.Name, w.Description)
	}
	if ts.StepTemplate != nil {
		p.env(ts.StepTemplate.Env, "stepTemplate env")
	}
	for _, s := range ts.Steps {
		where := "step " + s.Name
		if s.Script != "" {
			p.add("%s uses script:", where)
		}
		p.env(s.Env, where+" env")
		if len(s.EnvFrom) > 0 {
			p.add("%s uses envFrom", where)
		}
		if s.Ref == nil {
			p.add("%s does not ref a StepAction (the StepAction is the single definition of a step)", where)
			p.image(s.Image, "")
			p.securityContext(s.SecurityContext)
		}
		req, lim := s.ComputeResources.Requests, s.ComputeResources.Limits
		if _, ok := req[corev1.ResourceCPU]; !ok {
			p.add("%s: computeResources.requests.cpu missing", where)
		}
		rm, okr := req[corev1.ResourceMemory]
		lm, okl := lim[corev1.ResourceMemory]
		if !okr || !okl || rm.Cmp(lm) != 0 {
			p.add("%s: computeResources memory request must equal the memory limit", where)
		}
		if _, ok := lim[corev1.ResourceCPU]; ok {
			p.add("%s: computeResources.limits.cpu set (no CPU limit: throttling slows the gates)", where)
		}
	}
}

// TestPipelinesAsCodeRun: the .tekton PipelineRun decodes strictly, validates with Tekton's
// code and binds only workspaces and params the Pipeline declares.
func TestPipelinesAsCodeRun(t *testing.T) {
	repo := load(t)
	files, err := filepath.Glob(filepath.Join(root, ".tekton", "*.yaml"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	p := repo.Pipelines["release-to-prod"]
	require.NotNil(t, p)
	declared := map[string]bool{}
	for _, w := range p.Spec.Workspaces {
		declared["workspace "+w.Name] = true
	}
	for _, ps := range p.Spec.Params {
		declared["param "+ps.Name] = true
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		var pr v1.PipelineRun
		require.NoError(t, yaml.UnmarshalStrict(b, &pr), f)
		// Resolvers are a beta field: checked against Tekton's default configuration
		// (enable-api-fields: beta), which Konflux runs; the repository's own YAML is held to
		// stable (tekton.Context).
		ctx := apis.WithinCreate(context.Background())
		pr.SetDefaults(ctx)
		if fe := pr.Validate(ctx); fe != nil {
			t.Errorf("%s: %v", f, fe)
		}
		for _, w := range pr.Spec.Workspaces {
			assert.True(t, declared["workspace "+w.Name], "%s: workspace %s", f, w.Name)
		}
		for _, ps := range pr.Spec.Params {
			assert.True(t, declared["param "+ps.Name], "%s: param %s", f, ps.Name)
		}
	}
}
