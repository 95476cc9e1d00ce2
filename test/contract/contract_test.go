// Package contract checks the repository's Tekton YAML against Tekton (decoded strictly,
// defaulted, validated and wired with tektoncd/pipeline's own code, see package tekton), against
// what a Konflux tenant's cluster accepts (tekton.CheckTenant), and against the project's step
// contract (DESIGN.md §3): generated from the steps' config structs and up to date, no script,
// no secret in env, every param/result/workspace described, pinned project images, catalog
// metadata, compute resources with GOMEMLIMIT, and step env that matches what the binary reads.
package contract

import (
	"bytes"
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
	corev1 "k8s.io/api/core/v1"
	"knative.dev/pkg/apis"
	"sigs.k8s.io/yaml"

	"github.com/release-to-prod/release-to-prod/pkg/build/tekton"
	"github.com/release-to-prod/release-to-prod/pkg/build/tektongen"
	"github.com/release-to-prod/release-to-prod/pkg/gates/input/params"
	"github.com/release-to-prod/release-to-prod/pkg/step"
)

// notExposed are settings a step may leave out: the output format stays the default (text) in
// a cluster, and KUBECONFIG is unset in a pod (in-cluster ServiceAccount) and set by the local
// runner.
var notExposed = map[string]bool{"LOG_FORMAT": true, "KUBECONFIG": true}

const root = "../.."

func load(t *testing.T) *tekton.Repo {
	t.Helper()
	repo, err := tekton.Load(root)
	require.NoError(t, err, "decoding the YAML strictly")
	require.NotEmpty(t, repo.Tasks)
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

// TestGeneratedFilesAreUpToDate: the Tasks, the Pipeline, their README tables and the
// check-input config are what make generate writes from the steps' config structs today.
func TestGeneratedFilesAreUpToDate(t *testing.T) {
	files, err := tektongen.Files(root)
	require.NoError(t, err)
	for _, f := range files {
		got, err := os.ReadFile(filepath.Join(root, f.Path))
		require.NoError(t, err, "%s: run make generate", f.Path)
		assert.True(t, bytes.Equal(f.Data, got), "%s is out of date: run make generate", f.Path)
	}
}

// TestTenantRules: nothing a tenant's cluster refuses (see tekton.CheckTenant).
func TestTenantRules(t *testing.T) {
	require.NoError(t, load(t).CheckTenant())
}

// TestEveryGateHasATask: each gate is usable alone as its own Task.
func TestEveryGateHasATask(t *testing.T) {
	repo := load(t)
	for _, s := range tektongen.Steps {
		if s.NoTask {
			continue
		}
		_, ok := repo.Tasks[s.Name]
		assert.True(t, ok, "step %s has no Task tasks/%s/0.1/%s.yaml", s.Name, s.Name, s.Name)
	}
}

var (
	catalogLabels      = []string{"app.kubernetes.io/version"}
	catalogAnnotations = []string{"tekton.dev/pipelines.minVersion", "tekton.dev/categories", "tekton.dev/tags", "tekton.dev/displayName", "tekton.dev/platforms"}
	pinnedImage        = regexp.MustCompile(`^quay\.io/release-to-prod/([a-z0-9-]+)(:[0-9]+\.[0-9]+\.[0-9]+(@sha256:[0-9a-f]{64})?|@sha256:[0-9a-f]{64})$`)
)

func TestTaskContract(t *testing.T) {
	repo := load(t)
	for _, name := range tekton.Names(repo.Tasks) {
		task := repo.Tasks[name]
		t.Run(name, func(t *testing.T) {
			var p problems
			p.catalog(task.Labels, task.Annotations)
			p.described("the Task", task.Spec.Description)
			p.taskSpec(t, &task.Spec)
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
					sub.taskSpec(t, &pt.TaskSpec.TaskSpec)
					p.list = append(p.list, sub.list...)
				}
			}
			p.report(t)
		})
	}
}

// envMatchesConfig: every env the step sets is read by its binary (or is the Go runtime's
// GOMEMLIMIT), every setting the binary requires is set, and GOMEMLIMIT is 90% of the memory
// limit; the settings left out (defaults apply) are listed in the log.
func (p *problems) envMatchesConfig(t *testing.T, s v1.Step) {
	m := pinnedImage.FindStringSubmatch(s.Image)
	if m == nil {
		return // reported by image()
	}
	def := tektongen.StepNamed(m[1])
	if def == nil {
		p.add("step %s: image %s is no step of tektongen.Steps", s.Name, s.Image)
		return
	}
	cfg := def.Config
	if def.PipelineParams {
		cfg = &params.Config{} // generated from the Pipeline's params; the generator does not import it
	}
	fields, err := step.EnvFields(cfg)
	require.NoError(t, err)
	read := map[string]step.Field{}
	for _, f := range fields {
		read[f.Env] = f
	}
	set := map[string]bool{}
	for _, e := range s.Env {
		set[e.Name] = true
		if _, ok := read[e.Name]; !ok && e.Name != "GOMEMLIMIT" {
			p.add("step %s: env %s is set but %T does not read it", s.Name, e.Name, cfg)
		}
	}
	var left []string
	for _, f := range fields {
		switch {
		case set[f.Env] || notExposed[f.Env]:
		case f.Required:
			p.add("step %s: %T requires %s but the step does not set it", s.Name, cfg, f.Env)
		default:
			left = append(left, f.Env)
		}
	}
	if lim, ok := s.ComputeResources.Limits[corev1.ResourceMemory]; ok {
		want := fmt.Sprintf("%dMiB", lim.Value()*9/10/(1<<20))
		if got, _ := envValue(s.Env, "GOMEMLIMIT"); got != want {
			p.add("step %s: GOMEMLIMIT %q, want %q (90%% of the %s limit)", s.Name, got, want, lim.String())
		}
	}
	if len(left) > 0 {
		sort.Strings(left)
		t.Logf("step %s: settings left at their defaults (no param): %s", s.Name, strings.Join(left, ", "))
	}
}

func envValue(env []corev1.EnvVar, name string) (string, bool) {
	for _, e := range env {
		if e.Name == name {
			return e.Value, true
		}
	}
	return "", false
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

func (p *problems) taskSpec(t *testing.T, ts *v1.TaskSpec) {
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
	// Each step as its container runs it: merged with the stepTemplate, as Tekton's pod
	// builder does.
	steps, err := v1.MergeStepsWithStepTemplate(ts.StepTemplate, ts.Steps)
	require.NoError(t, err)
	for _, s := range steps {
		where := "step " + s.Name
		if s.Script != "" {
			p.add("%s uses script:", where)
		}
		p.env(s.Env, where+" env")
		if len(s.EnvFrom) > 0 {
			p.add("%s uses envFrom", where)
		}
		p.image(s.Image, "")
		p.securityContext(s.SecurityContext)
		p.envMatchesConfig(t, s)
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

// TestPipelinesAsCodeRun: the PaC PipelineRun a team copies (pac/) decodes strictly, validates with Tekton's
// code and binds only workspaces and params the Pipeline declares.
func TestPipelinesAsCodeRun(t *testing.T) {
	repo := load(t)
	files, err := tekton.PaCRunFiles(root)
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
