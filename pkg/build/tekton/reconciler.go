package tekton

// This file is THE adapter between this repository and tektoncd/pipeline's reconcilers: every
// call into pkg/reconciler/{pipelinerun,taskrun}/resources and pkg/reconciler/pipeline/dag is
// here, in the order the reconcilers make them. The wiring check (Check) and the local runner
// (pkg/localrun/runner) both go through it, so what the check accepts is what the runner executes.
//
// What is Tekton's: the DAG and its scheduling (DAGExecutionQueue, GetFinalTasks), when
// expressions and skip reasons, param / context / workspace / result substitution
// (Apply*), result-reference resolution and validation, StepAction resolution
// (GetStepActionsData), $(tasks.status), the PipelineRun's condition and its results.
// What is the adapter's:
//   - Tasks and StepActions come from a fake Tekton clientset holding the repository's objects
//     (the reconcilers read them from the API server through the same interface);
//   - TaskRuns are not created through an API: the caller runs them and hands back their
//     status (Finish), which is all the scheduling code reads;
//   - workspaces: each declaration's mountPath is set to the local folder bound to it before
//     Tekton's ApplyWorkspaces substitutes $(workspaces.<name>.path);
//   - Tekton's in-pod paths (/tekton/steps/…, /tekton/results/…) stay as Tekton writes them;
//     the runner maps the /tekton/ prefix to a per-TaskRun folder (pkg/localrun/runner).
// Left out (no use here): matrix, custom tasks, pipelines in pipelines, retries, timeouts
// enforcement at PipelineRun level, affinity assistant, propagated workspaces of inline specs.

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	"github.com/tektoncd/pipeline/pkg/apis/pipeline/v1beta1"
	"github.com/tektoncd/pipeline/pkg/client/clientset/versioned"
	"github.com/tektoncd/pipeline/pkg/client/clientset/versioned/fake"
	"github.com/tektoncd/pipeline/pkg/reconciler/pipeline/dag"
	prr "github.com/tektoncd/pipeline/pkg/reconciler/pipelinerun/resources"
	"github.com/tektoncd/pipeline/pkg/reconciler/taskrun"
	trr "github.com/tektoncd/pipeline/pkg/reconciler/taskrun/resources"
	"github.com/tektoncd/pipeline/pkg/trustedresources"
	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	kerrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/utils/clock"
	"knative.dev/pkg/apis"
)

// Namespace is the namespace the repository's objects are put in for the reconcilers' code.
const Namespace = "default"

// Client returns a Tekton clientset (fake, in memory) holding the repository's Tasks and
// StepActions in Namespace: the reconcilers' resolvers read them through it.
func (r *Repo) Client() versioned.Interface {
	var objs []runtime.Object
	for _, t := range r.Tasks {
		c := t.DeepCopy()
		c.Namespace = Namespace
		objs = append(objs, c)
	}
	for _, sa := range r.StepActions {
		c := sa.DeepCopy()
		c.Namespace = Namespace
		objs = append(objs, c)
	}
	return fake.NewSimpleClientset(objs...)
}

// PipelineRun is a PipelineRun prepared the way the PipelineRun reconciler prepares it, and its
// scheduling state.
type PipelineRun struct {
	Run   *v1.PipelineRun
	Spec  *v1.PipelineSpec // after param, context and workspace substitution
	Facts *prr.PipelineRunFacts

	client   versioned.Interface
	reported map[string]bool // skipped tasks already returned by Next
}

// NewPipelineRun validates a run of p with params and workspaces and resolves its tasks, as
// the reconciler does before it creates the first TaskRun. Every error is one the reconciler
// would fail the PipelineRun with.
func (r *Repo) NewPipelineRun(ctx context.Context, p *v1.Pipeline, name string, params v1.Params, workspaces []v1.WorkspaceBinding) (*PipelineRun, error) {
	ctx = Context(ctx)
	p = p.DeepCopy()
	p.SetDefaults(ctx)
	pr := &v1.PipelineRun{
		TypeMeta:   metav1.TypeMeta{APIVersion: "tekton.dev/v1", Kind: "PipelineRun"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: Namespace},
		Spec: v1.PipelineRunSpec{
			PipelineRef: &v1.PipelineRef{Name: p.Name},
			Params:      params,
			Workspaces:  workspaces,
		},
	}
	pr.SetDefaults(ctx)
	pr.Status.InitializeConditions(clock.RealClock{})
	spec := &p.Spec

	d, err := dag.Build(v1.PipelineTaskList(spec.Tasks), v1.PipelineTaskList(spec.Tasks).Deps())
	if err != nil {
		return nil, fmt.Errorf("pipeline DAG is invalid: %w", err)
	}
	dfinally, err := dag.Build(v1.PipelineTaskList(spec.Finally), map[string][]string{})
	if err != nil {
		return nil, fmt.Errorf("pipeline DAG is invalid for finally clause: %w", err)
	}
	if err := validateRun(ctx, spec, pr); err != nil {
		return nil, err
	}
	spec, err = substitute(spec, p.Name, pr)
	if err != nil {
		return nil, err
	}
	pr.Status.PipelineSpec = spec

	out := &PipelineRun{Run: pr, Spec: spec, client: r.Client(), reported: map[string]bool{}}
	state, err := out.resolveTasks(ctx)
	if err != nil {
		return nil, err
	}
	out.Facts = &prr.PipelineRunFacts{
		State:           state,
		SpecStatus:      pr.Spec.Status,
		TasksGraph:      d,
		FinalTasksGraph: dfinally,
		TimeoutsState:   prr.PipelineRunTimeoutsState{Clock: clock.RealClock{}},
	}
	if err := validateResolved(ctx, spec, state); err != nil {
		return nil, err
	}
	now := metav1.NewTime(time.Now())
	pr.Status.StartTime = &now
	return out, nil
}

// validateRun checks the run's params and workspace bindings against the Pipeline's spec, as
// the reconciler does before it resolves any task.
func validateRun(ctx context.Context, spec *v1.PipelineSpec, pr *v1.PipelineRun) error {
	if err := spec.Validate(ctx); err != nil {
		return fmt.Errorf("pipeline spec is invalid: %w", err)
	}
	if err := prr.ValidateRequiredParametersProvided(&spec.Params, &pr.Spec.Params); err != nil {
		return fmt.Errorf("missing parameters: %w", err)
	}
	if err := prr.ValidateParamTypesMatching(spec, pr); err != nil {
		return fmt.Errorf("parameter types: %w", err)
	}
	if err := prr.ValidateObjectParamRequiredKeys(spec.Params, pr.Spec.Params); err != nil {
		return fmt.Errorf("object parameters: %w", err)
	}
	if err := prr.ValidateParamArrayIndex(spec, pr.Spec.Params); err != nil {
		return fmt.Errorf("array parameters: %w", err)
	}
	if err := prr.ValidateWorkspaceBindings(spec, pr); err != nil {
		return fmt.Errorf("workspaces: %w", err)
	}
	return nil
}

// substitute applies the run's params, context and workspaces to the Pipeline's spec.
func substitute(spec *v1.PipelineSpec, pipeline string, pr *v1.PipelineRun) (*v1.PipelineSpec, error) {
	prr.ApplyParametersToWorkspaceBindings(pr)
	spec, err := prr.ApplyParameters(spec, pr)
	if err != nil {
		return nil, fmt.Errorf("applying parameters: %w", err)
	}
	spec = prr.ApplyContexts(spec, pipeline, pr)
	spec = prr.ApplyWorkspaces(spec, pr)
	return spec, nil
}

// resolveTasks resolves the run's tasks and finally tasks (the Tasks from the Repo; no TaskRun
// exists yet), as the reconciler does.
func (p *PipelineRun) resolveTasks(ctx context.Context) (prr.PipelineRunState, error) {
	getTask := func(ctx context.Context, name string) (*v1.Task, *v1.RefSource, *trustedresources.VerificationResult, error) {
		return (&trr.LocalTaskRefResolver{Namespace: Namespace, Kind: v1.NamespacedTaskKind, Tektonclient: p.client}).GetTask(ctx, name)
	}
	notFound := func(kind string) func(string) error {
		return func(n string) error {
			return kerrors.NewNotFound(schema.GroupResource{Group: "tekton.dev", Resource: kind}, n)
		}
	}
	getTaskRun := func(n string) (*v1.TaskRun, error) { return nil, notFound("taskruns")(n) }
	getRun := func(n string) (*v1beta1.CustomRun, error) { return nil, notFound("customruns")(n) }
	getChildPR := func(n string) (*v1.PipelineRun, error) { return nil, notFound("pipelineruns")(n) }

	var state prr.PipelineRunState
	spec, pr := p.Spec, p.Run
	for _, pt := range append(append([]v1.PipelineTask{}, spec.Tasks...), spec.Finally...) {
		rpt, err := prr.ResolvePipelineTask(ctx, *pr, getChildPR, nil, getTask, getTaskRun, getRun, pt, state)
		if err != nil {
			return nil, fmt.Errorf("pipeline task %q: %w", pt.Name, err)
		}
		if rpt.IsCustomTask() || rpt.IsChildPipeline() {
			return nil, fmt.Errorf("pipeline task %q: custom tasks and pipelines in pipelines are not supported here", pt.Name)
		}
		state = append(state, rpt)
	}
	return state, nil
}

// validateResolved checks the resolved tasks (params, matrix, CEL when expressions) and the
// results and optional workspaces the Pipeline uses.
func validateResolved(ctx context.Context, spec *v1.PipelineSpec, state prr.PipelineRunState) error {
	for _, rpt := range state {
		if err := taskrun.ValidateResolvedTask(ctx, rpt.PipelineTask.Params, rpt.PipelineTask.Matrix, rpt.ResolvedTask); err != nil {
			return fmt.Errorf("pipeline task %q: %w", rpt.PipelineTask.Name, err)
		}
		if err := rpt.EvaluateCEL(); err != nil {
			return fmt.Errorf("pipeline task %q: %w", rpt.PipelineTask.Name, err)
		}
	}
	if err := prr.ValidatePipelineTaskResults(state); err != nil {
		return err
	}
	if err := prr.ValidatePipelineResults(spec, state); err != nil {
		return err
	}
	if err := prr.ValidateOptionalWorkspaces(spec.Workspaces, state); err != nil {
		return fmt.Errorf("optional workspace not supported by task: %w", err)
	}
	return nil
}

// Skipped is a pipeline task Tekton decided not to run.
type Skipped struct {
	Name   string
	Reason string
	When   v1.WhenExpressions // the expressions, when they are the reason
}

// Next returns the pipeline tasks to run now, as one reconcile of the PipelineRun reconciler
// would schedule them (runNextSchedulableTask), and the tasks newly found skipped. It returns
// no task to run when the PipelineRun is done.
func (p *PipelineRun) Next() ([]*prr.ResolvedPipelineTask, []Skipped, error) {
	facts := p.Facts
	facts.ResetSkippedCache()
	// Each reconcile re-resolves the tasks not started yet, with the results known so far
	// (resolvePipelineState → ResolvePipelineTask); when expressions read them.
	for _, rpt := range facts.State {
		if len(rpt.TaskRuns) == 0 {
			refs, _, _ := prr.ResolveResultRefs(facts.State, prr.PipelineRunState{rpt})
			prr.ApplyTaskResults(prr.PipelineRunState{rpt}, refs)
		}
	}
	next, err := facts.DAGExecutionQueue()
	if err != nil {
		return nil, nil, fmt.Errorf("scheduling: %w", err)
	}
	for _, rpt := range next {
		if err := prr.CheckMissingResultReferences(facts.State, rpt); err != nil {
			next = nil
			facts.ValidationFailedTask = append(facts.ValidationFailedTask, rpt)
			if facts.ValidationFailedErrors == nil {
				facts.ValidationFailedErrors = map[string]string{}
			}
			facts.ValidationFailedErrors[rpt.PipelineTask.Name] = err.Error()
		}
	}
	if final := facts.GetFinalTasks(); len(final) > 0 {
		prr.ApplyPipelineTaskStateContext(final, facts.GetPipelineTaskStatus())
		for _, rpt := range final {
			refs, _, err := prr.ResolveResultRef(facts.State, rpt)
			if err != nil {
				continue
			}
			prr.ApplyTaskResults(prr.PipelineRunState{rpt}, refs)
			if err := rpt.EvaluateCEL(); err != nil {
				return nil, nil, fmt.Errorf("finally task %q: %w", rpt.PipelineTask.Name, err)
			}
			next = append(next, rpt)
		}
	}
	var run []*prr.ResolvedPipelineTask
	for _, rpt := range next {
		if rpt.Skip(facts).IsSkipped || rpt.IsFinallySkipped(facts).IsSkipped {
			continue
		}
		prr.PropagateResults(rpt, facts.State)
		run = append(run, rpt)
	}
	var skipped []Skipped
	for _, s := range facts.GetSkippedTasks() {
		if p.reported[s.Name] {
			continue
		}
		p.reported[s.Name] = true
		skipped = append(skipped, Skipped{Name: s.Name, Reason: string(s.Reason), When: s.WhenExpressions})
	}
	return run, skipped, nil
}

// IsFinal reports whether rpt is in the finally section.
func (p *PipelineRun) IsFinal(rpt *prr.ResolvedPipelineTask) bool { return rpt.IsFinalTask(p.Facts) }

// LocalDir returns the local folder bound to a Pipeline workspace, false when it is not bound.
type LocalDir func(pipelineWorkspace string) (string, bool)

// TaskRun returns the TaskRun the reconciler would create for rpt and the TaskSpec its pod
// would run: StepActions resolved into the steps (GetStepActionsData), then params, context,
// results, exit-code paths and workspaces substituted (the TaskRun reconciler's
// applyParamsContextsResultsAndWorkspaces), and each step merged with the stepTemplate (the
// pod builder's MergeStepsWithStepTemplate). Workspace paths are the local folders dir gives.
func (p *PipelineRun) TaskRun(ctx context.Context, rpt *prr.ResolvedPipelineTask, dir LocalDir) (*v1.TaskRun, *v1.TaskSpec, error) {
	ctx = Context(ctx)
	pt := rpt.PipelineTask
	tr := &v1.TaskRun{
		TypeMeta:   metav1.TypeMeta{APIVersion: "tekton.dev/v1", Kind: "TaskRun"},
		ObjectMeta: metav1.ObjectMeta{Name: rpt.TaskRunNames[0], Namespace: Namespace, Labels: map[string]string{"tekton.dev/pipelineTask": pt.Name}},
		Spec:       v1.TaskRunSpec{Params: pt.Params, TaskRef: pt.TaskRef},
	}
	if pt.TaskSpec != nil {
		tr.Spec.TaskSpec = &pt.TaskSpec.TaskSpec
	}
	mounts := map[string]string{}
	bound := map[string]v1.WorkspaceBinding{}
	for _, b := range p.Run.Spec.Workspaces {
		bound[b.Name] = b
	}
	for _, ws := range pt.Workspaces {
		pw := ws.Workspace
		if pw == "" {
			pw = ws.Name
		}
		b, ok := bound[pw]
		if !ok {
			continue // an optional workspace left unbound: Tekton leaves it out of the TaskRun
		}
		local, ok := dir(pw)
		if !ok {
			return nil, nil, fmt.Errorf("pipeline task %q: workspace %q has no local folder", pt.Name, pw)
		}
		b = *b.DeepCopy()
		b.Name = ws.Name
		b.SubPath = filepath.Join(b.SubPath, ws.SubPath)
		tr.Spec.Workspaces = append(tr.Spec.Workspaces, b)
		mounts[ws.Name] = filepath.Join(local, b.SubPath)
	}
	spec := rpt.ResolvedTask.TaskSpec.DeepCopy()
	spec.SetDefaults(ctx)
	steps, err := trr.GetStepActionsData(ctx, *spec, tr, p.client, nil, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("pipeline task %q: resolving StepActions: %w", pt.Name, err)
	}
	spec.Steps = steps
	if err := taskrun.ValidateResolvedTask(ctx, tr.Spec.Params, nil, &trr.ResolvedTask{TaskSpec: spec, TaskName: rpt.ResolvedTask.TaskName}); err != nil {
		return nil, nil, fmt.Errorf("pipeline task %q: %w", pt.Name, err)
	}
	spec = ApplyTaskRun(ctx, spec, rpt.ResolvedTask.TaskName, tr, mounts)
	tr.Status.TaskSpec = spec
	// The pod's containers: each step merged with the stepTemplate, as the pod builder does
	// after substitution (pkg/pod Build). The status keeps the spec as written, as Tekton's does.
	merged := spec.DeepCopy()
	if merged.Steps, err = v1.MergeStepsWithStepTemplate(spec.StepTemplate, spec.Steps); err != nil {
		return nil, nil, fmt.Errorf("pipeline task %q: merging the stepTemplate: %w", pt.Name, err)
	}
	merged.StepTemplate = nil
	return tr, merged, nil
}

// ApplyTaskRun substitutes a resolved TaskSpec for tr as the TaskRun reconciler does
// (applyParamsContextsResultsAndWorkspaces), with each workspace mounted at mounts[name].
func ApplyTaskRun(ctx context.Context, spec *v1.TaskSpec, taskName string, tr *v1.TaskRun, mounts map[string]string) *v1.TaskSpec {
	ts := spec.DeepCopy()
	defaults := append([]v1.ParamSpec{}, ts.Params...)
	ts = trr.ApplyParameters(ts, tr, defaults...)
	ts = trr.ApplyContexts(ts, taskName, tr)
	ts = trr.ApplyResults(ts)
	ts = trr.ApplyArtifacts(ts)
	ts = trr.ApplyStepExitCodePath(ts)
	for i := range ts.Workspaces {
		if m, ok := mounts[ts.Workspaces[i].Name]; ok {
			ts.Workspaces[i].MountPath = m
		}
	}
	return trr.ApplyWorkspaces(ctx, ts, ts.Workspaces, tr.Spec.Workspaces, map[string]corev1.Volume{})
}

// Finish records the end of rpt's TaskRun, which is what Tekton's scheduling reads.
func (p *PipelineRun) Finish(rpt *prr.ResolvedPipelineTask, tr *v1.TaskRun, succeeded bool, reason, message string, results []v1.TaskRunResult) {
	status := corev1.ConditionTrue
	if !succeeded {
		status = corev1.ConditionFalse
	}
	now := metav1.NewTime(time.Now())
	tr.Status.CompletionTime = &now
	tr.Status.Results = results
	tr.Status.SetCondition(&apis.Condition{Type: apis.ConditionSucceeded, Status: status, Reason: reason, Message: message})
	rpt.TaskRuns = []*v1.TaskRun{tr}
}

// Done returns the PipelineRun's final condition and results, as the reconciler computes them.
func (p *PipelineRun) Done(ctx context.Context) (*apis.Condition, []v1.PipelineRunResult, error) {
	facts := p.Facts
	facts.ResetSkippedCache()
	cond := facts.GetPipelineConditionStatus(ctx, p.Run, zap.NewNop().Sugar(), clock.RealClock{})
	status := facts.GetPipelineTaskStatus()
	for k, v := range facts.GetPipelineFinalTaskStatus() {
		status[k] = v
	}
	results, err := prr.ApplyTaskResultsToPipelineResults(p.Spec.Results, facts.State.GetTaskRunsResults(), facts.State.GetRunsResults(), status)
	if err != nil {
		return cond, results, fmt.Errorf("pipeline results: %w", err)
	}
	return cond, results, nil
}

// ErrNoPipeline is returned for a Pipeline name the repository does not hold.
var ErrNoPipeline = errors.New("no such Pipeline")
