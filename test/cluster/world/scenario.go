package world

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	pipelinev1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"knative.dev/pkg/apis"
	"sigs.k8s.io/yaml"

	"github.com/release-to-prod/release-to-prod/test/sandbox"
)

// The Konflux world of a tenant, as test/sandbox seeds one.
const (
	Application = "aap-aa-main"
	Component   = "automation-analytics-backend-main"
)

// ReadPipeline reads the generated release-to-prod Pipeline of the checkout at root.
func ReadPipeline(root string) (*pipelinev1.Pipeline, error) {
	path := filepath.Join(root, "pipelines", "release-to-prod", "0.1", "release-to-prod.yaml")
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var p pipelinev1.Pipeline
	if err := yaml.UnmarshalStrict(b, &p); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &p, nil
}

// Konflux is what SeedKonflux put in a tenant's namespace and the registry.
type Konflux struct {
	SHA        string
	Repository string // host/path as pods see it
	QuayRepo   string // the repository path in the Quay API
	Digest     string
}

// KonfluxOptions choose the seeded world.
type KonfluxOptions struct {
	SHA   string
	Image v1.Image // pushed as the commit's image
	Tests string   // how the push Snapshot's tests ended: "True" or "False"
	// Matched: the ReleasePlan is matched to a ReleasePlanAdmission and active.
	Matched bool
}

// SeedKonflux creates Application, Component, the commit's image in the cluster's registry
// under the component's staging repository, a push Snapshot and a ReleasePlan (auto-release
// "false").
func (tn *Tenant) SeedKonflux(ctx context.Context, o KonfluxOptions) (*Konflux, error) {
	c, ns := tn.c, tn.NS
	s := &sandbox.Sandbox{Dynamic: c.Dynamic}
	k := &Konflux{SHA: o.SHA, QuayRepo: "redhat-user-workloads/" + ns + "/" + Application + "/" + Component}
	k.Repository = c.Registry.Host + "/" + k.QuayRepo
	if err := s.CreateApplication(ctx, ns, Application, Component, k.Repository); err != nil {
		return nil, err
	}
	ref, err := c.Registry.PushImage(ctx, k.QuayRepo, o.SHA, o.Image)
	if err != nil {
		return nil, err
	}
	d, err := o.Image.Digest()
	if err != nil {
		return nil, fmt.Errorf("seed: image digest: %w", err)
	}
	k.Digest = d.String()
	if err := s.CreateSnapshot(ctx, sandbox.SnapshotOptions{
		Namespace: ns, Name: Application + "-" + o.SHA[:8], Application: Application, Component: Component,
		SHA: o.SHA, Image: ref, EventType: "push", Tests: o.Tests,
	}); err != nil {
		return nil, err
	}
	if err := s.CreateReleasePlan(ctx, sandbox.ReleasePlanOptions{Namespace: ns, Name: Application + "-prod", Application: Application,
		Matched: o.Matched, Active: o.Matched}); err != nil {
		return nil, err
	}
	return k, nil
}

// Run is one finished PipelineRun on the node.
type Run struct {
	PR       *pipelinev1.PipelineRun
	Cond     *apis.Condition
	TaskRuns []pipelinev1.TaskRun
	Posts    []string // what Slack was sent during this run
	// Wall is the time from the PipelineRun's creation to its end, after its finally task.
	Wall time.Duration
}

// TaskRun returns the TaskRun of the pipeline task named task, nil when there is none.
func (r *Run) TaskRun(task string) *pipelinev1.TaskRun {
	for i := range r.TaskRuns {
		if r.TaskRuns[i].Labels["tekton.dev/pipelineTask"] == task {
			return &r.TaskRuns[i]
		}
	}
	return nil
}

// Reported says whether the finally task report ran and succeeded.
func (r *Run) Reported() bool {
	tr := r.TaskRun("report")
	if tr == nil {
		return false
	}
	rc := tr.Status.GetCondition(apis.ConditionSucceeded)
	return rc != nil && rc.Status == corev1.ConditionTrue
}

// Run creates a PipelineRun of spec with params as the tenant admin (the Tasks mount the Slack
// Secret by its default name; ServiceAccount release-to-prod, release-to-prod-releaser for create-release), reports the TaskRuns as they end on progress, and
// waits up to timeout for the run to end.
func (tn *Tenant) Run(ctx context.Context, spec *pipelinev1.PipelineSpec, params map[string]string, timeout time.Duration, progress io.Writer) (*Run, error) {
	return tn.RunWith(ctx, spec, params, RunOptions{}, timeout, progress)
}

// RunOptions change how RunWith starts and drives a PipelineRun, for the ends a person or
// Tekton gives a run: its timeouts, and a cancel (CancelAs patched into spec.status, as the
// Konflux UI and tkn pipelinerun cancel do, once CancelWhen holds of its TaskRuns).
type RunOptions struct {
	Timeouts   *pipelinev1.TimeoutFields
	CancelAs   pipelinev1.PipelineRunSpecStatus
	CancelWhen func(trs []pipelinev1.TaskRun) bool
}

// StepAtWork reports whether step of pipeline task task is at work in trs, as Tekton records
// it: every step before it ended. Every step's container runs from the pod's start (its
// entrypoint waits for the step before it), so a step shown running is not yet at work.
func StepAtWork(trs []pipelinev1.TaskRun, task, step string) bool {
	for _, tr := range trs {
		if tr.Labels["tekton.dev/pipelineTask"] != task {
			continue
		}
		for _, s := range tr.Status.Steps {
			if s.Name == step {
				return s.Running != nil
			}
			if s.Terminated == nil {
				return false
			}
		}
	}
	return false
}

// RunWith is Run with opts.
func (tn *Tenant) RunWith(ctx context.Context, spec *pipelinev1.PipelineSpec, params map[string]string, opts RunOptions, timeout time.Duration, progress io.Writer) (*Run, error) {
	before := len(tn.Posts())
	pr := newPipelineRun(spec, params, opts.Timeouts)
	created := time.Now()
	pr, err := tn.Tekton.TektonV1().PipelineRuns(tn.NS).Create(ctx, pr, metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("PipelineRun: %w", err)
	}
	fmt.Fprintf(progress, "PipelineRun %s/%s created\n", tn.NS, pr.Name)
	f := tn.follow(pr.Name, progress)
	f.pr = pr
	if opts.CancelAs != "" {
		f.eachPoll = (&canceller{tn: tn, name: pr.Name, opts: opts, progress: progress}).poll
	}
	err = f.wait(ctx, timeout)
	pr = f.pr
	// The run is done once its finally task has ended: the wall time a user waits, measured to
	// the poll (200 ms) rather than to the API's whole-second timestamps.
	r := &Run{PR: pr, Wall: time.Since(created)}
	trs, lerr := f.taskRuns(ctx)
	if lerr != nil {
		return r, errors.Join(err, fmt.Errorf("TaskRuns of %s: %w", pr.Name, lerr))
	}
	r.TaskRuns = trs.Items
	r.Posts = tn.Posts()[before:]
	if err != nil {
		return r, err
	}
	if r.Cond = pr.Status.GetCondition(apis.ConditionSucceeded); r.Cond == nil {
		return r, fmt.Errorf("PipelineRun %s ended without a Succeeded condition", pr.Name)
	}
	fmt.Fprintf(progress, "PipelineRun %s: %s %s (%s)\n", pr.Name, r.Cond.Status, r.Cond.Reason, r.Wall.Round(time.Millisecond))
	return r, nil
}

// newPipelineRun is a PipelineRun of spec with params (sorted by name) and timeouts, run by
// ServiceAccount release-to-prod but for create-release.
func newPipelineRun(spec *pipelinev1.PipelineSpec, params map[string]string, timeouts *pipelinev1.TimeoutFields) *pipelinev1.PipelineRun {
	var ps pipelinev1.Params
	for _, n := range slices.Sorted(maps.Keys(params)) {
		ps = append(ps, pipelinev1.Param{Name: n, Value: *pipelinev1.NewStructuredValues(params[n])})
	}
	return &pipelinev1.PipelineRun{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "release-to-prod-"},
		Spec: pipelinev1.PipelineRunSpec{
			PipelineSpec:    spec,
			Params:          ps,
			TaskRunTemplate: pipelinev1.PipelineTaskRunTemplate{ServiceAccountName: "release-to-prod"},
			// As the README binds them: only create-release may create a Release.
			TaskRunSpecs: []pipelinev1.PipelineTaskRunSpec{{PipelineTaskName: "create-release", ServiceAccountName: "release-to-prod-releaser"}},
			Timeouts:     timeouts,
		},
	}
}

// canceller patches opts.CancelAs into the PipelineRun name's spec.status, once, at the first poll
// where opts.CancelWhen holds of its TaskRuns.
type canceller struct {
	tn       *Tenant
	name     string
	opts     RunOptions
	progress io.Writer
	done     bool
}

func (c *canceller) poll(ctx context.Context, trs []pipelinev1.TaskRun) error {
	if c.done || !c.opts.CancelWhen(trs) {
		return nil
	}
	patch := []byte(`{"spec":{"status":"` + string(c.opts.CancelAs) + `"}}`)
	if _, err := c.tn.Tekton.TektonV1().PipelineRuns(c.tn.NS).Patch(ctx, c.name, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		return fmt.Errorf("cancelling PipelineRun %s as %s: %w", c.name, c.opts.CancelAs, err)
	}
	c.done = true
	fmt.Fprintf(c.progress, "  PipelineRun %s: spec.status %s\n", c.name, c.opts.CancelAs)
	return nil
}

// follower polls the PipelineRun name until it is done, reporting each of its TaskRuns once
// as it ends; pr is the run as last read.
type follower struct {
	tn       *Tenant
	name     string
	progress io.Writer
	seen     map[string]bool
	pr       *pipelinev1.PipelineRun
	// eachPoll, when set, sees the run's TaskRuns at each poll before they are reported; an
	// error ends the wait.
	eachPoll func(ctx context.Context, trs []pipelinev1.TaskRun) error
}

func (tn *Tenant) follow(name string, progress io.Writer) *follower {
	return &follower{tn: tn, name: name, progress: progress, seen: map[string]bool{}}
}

// wait polls until the run is done or timeout passes (cluster.WaitFor's errors).
func (f *follower) wait(ctx context.Context, timeout time.Duration) error {
	return f.tn.c.WaitFor(ctx, "PipelineRun "+f.name+" done", timeout, f.poll)
}

// poll reads the run and its TaskRuns; a read that fails is tried again at the next poll.
func (f *follower) poll(ctx context.Context) (bool, error) {
	got, err := f.tn.Tekton.TektonV1().PipelineRuns(f.tn.NS).Get(ctx, f.name, metav1.GetOptions{})
	if err != nil {
		return false, nil
	}
	f.pr = got
	if trs, err := f.taskRuns(ctx); err == nil {
		if f.eachPoll != nil {
			if err := f.eachPoll(ctx, trs.Items); err != nil {
				return false, err
			}
		}
		for _, tr := range trs.Items {
			if cond := tr.Status.GetCondition(apis.ConditionSucceeded); cond != nil && !cond.IsUnknown() && !f.seen[tr.Name] {
				f.seen[tr.Name] = true
				fmt.Fprintf(f.progress, "  %s (%s): %s %s\n", tr.Labels["tekton.dev/pipelineTask"], tr.Name, cond.Status, cond.Reason)
			}
		}
	}
	return f.pr.IsDone(), nil
}

// taskRuns lists the run's TaskRuns.
func (f *follower) taskRuns(ctx context.Context) (*pipelinev1.TaskRunList, error) {
	return f.tn.Tekton.TektonV1().TaskRuns(f.tn.NS).List(ctx, metav1.ListOptions{LabelSelector: "tekton.dev/pipelineRun=" + f.name})
}
