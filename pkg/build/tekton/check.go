package tekton

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"

	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	"github.com/tektoncd/pipeline/pkg/reconciler/pipeline/dag"
	trr "github.com/tektoncd/pipeline/pkg/reconciler/taskrun/resources"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Check validates every object (Validate), resolves the StepActions of every Task and of every
// Pipeline's inline task specs, checks their step references, and wires every Pipeline as a
// PipelineRun would (NewPipelineRun) with placeholder values for its required params and every
// workspace bound. It returns all the problems found.
func (r *Repo) Check(ctx context.Context) error {
	errs := []error{r.Validate(ctx)}
	for _, name := range Names(r.Tasks) {
		t := r.Tasks[name]
		if err := r.checkTaskSpec(ctx, &t.Spec, nil); err != nil {
			errs = append(errs, &FileError{r.Path["Task/"+name], fmt.Errorf("task %s: %w", name, err)})
		}
	}
	for _, name := range Names(r.Pipelines) {
		if err := r.CheckPipeline(ctx, r.Pipelines[name]); err != nil {
			errs = append(errs, &FileError{r.Path["Pipeline/"+name], fmt.Errorf("pipeline %s: %w", name, err)})
		}
	}
	return errors.Join(errs...)
}

// CheckPipeline wires p as the PipelineRun reconciler does before the first TaskRun: the DAG of
// tasks and of finally, required params, param types, workspace bindings, the tasks' params,
// result references between tasks and in the Pipeline's results; then it resolves the
// StepActions of every task and checks its step references.
func (r *Repo) CheckPipeline(ctx context.Context, p *v1.Pipeline) error {
	var params v1.Params
	for _, ps := range p.Spec.Params {
		if ps.Default != nil {
			continue
		}
		switch ps.Type {
		case v1.ParamTypeArray:
			params = append(params, v1.Param{Name: ps.Name, Value: v1.ParamValue{Type: v1.ParamTypeArray, ArrayVal: []string{"placeholder"}}})
		case v1.ParamTypeObject:
			obj := map[string]string{}
			for k := range ps.Properties {
				obj[k] = "placeholder"
			}
			params = append(params, v1.Param{Name: ps.Name, Value: v1.ParamValue{Type: v1.ParamTypeObject, ObjectVal: obj}})
		default:
			params = append(params, v1.Param{Name: ps.Name, Value: *v1.NewStructuredValues("placeholder")})
		}
	}
	var ws []v1.WorkspaceBinding
	for _, w := range p.Spec.Workspaces {
		ws = append(ws, v1.WorkspaceBinding{Name: w.Name, EmptyDir: &emptyDir})
	}
	run, err := r.NewPipelineRun(ctx, p, p.Name+"-check", params, ws)
	if err != nil {
		return err
	}
	var errs []error
	for _, rpt := range run.Facts.State {
		tr := &v1.TaskRun{ObjectMeta: metav1.ObjectMeta{Name: rpt.TaskRunNames[0], Namespace: Namespace}, Spec: v1.TaskRunSpec{Params: rpt.PipelineTask.Params}}
		if err := r.checkTaskSpec(ctx, rpt.ResolvedTask.TaskSpec, tr); err != nil {
			errs = append(errs, fmt.Errorf("pipeline task %q: %w", rpt.PipelineTask.Name, err))
		}
	}
	return errors.Join(errs...)
}

var emptyDir = corev1EmptyDir()

// checkTaskSpec resolves the StepActions of spec as the TaskRun reconciler does and checks what
// Tekton only finds at run time: a param passed to a StepAction that does not declare it, a
// step result or exit code that no earlier step produces, a Task result mapped from a step
// result that does not exist.
func (r *Repo) checkTaskSpec(ctx context.Context, spec *v1.TaskSpec, tr *v1.TaskRun) error {
	ctx = Context(ctx)
	if tr == nil {
		tr = &v1.TaskRun{ObjectMeta: metav1.ObjectMeta{Name: "check", Namespace: Namespace}}
	}
	var errs []error
	for _, s := range spec.Steps {
		if s.Ref == nil {
			continue
		}
		sa, ok := r.StepActions[s.Ref.Name]
		if !ok {
			errs = append(errs, fmt.Errorf("step %q: StepAction %q is not in stepactions/", s.Name, s.Ref.Name))
			continue
		}
		declared := map[string]bool{}
		for _, p := range sa.Spec.Params {
			declared[p.Name] = true
		}
		for _, p := range s.Params {
			if !declared[p.Name] {
				errs = append(errs, fmt.Errorf("step %q: param %q is not declared by StepAction %q", s.Name, p.Name, sa.Name))
			}
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	d := spec.DeepCopy()
	d.SetDefaults(ctx)
	steps, err := trr.GetStepActionsData(ctx, *d, tr, r.Client(), nil, nil)
	if err != nil {
		return fmt.Errorf("resolving StepActions: %w", err)
	}
	return StepReferences(steps, spec.Results)
}

var (
	stepResultRef = regexp.MustCompile(`\$\(steps\.([^.)]+)\.results\.([^.)\[]+)`)
	exitCodeRef   = regexp.MustCompile(`\$\(steps\.([^.)]+)\.exitCode\.path\)`)
)

// StepReferences checks the $(steps.<step>.results.<result>) and
// $(steps.step-<step>.exitCode.path) references of resolved steps: each names an earlier step
// (for a result, one that declares it) — Tekton's entrypoint would otherwise fail or leave the
// text as is at run time. Task results mapped from step results must name a declared one.
func StepReferences(steps []v1.Step, results []v1.TaskResult) error {
	declared := map[string]map[string]bool{}
	var errs []error
	for i, s := range steps {
		name := s.Name
		if name == "" {
			name = fmt.Sprintf("unnamed-%d", i)
		}
		var texts []string
		for _, e := range s.Env {
			texts = append(texts, e.Value)
		}
		texts = append(texts, s.Args...)
		texts = append(texts, s.Command...)
		for _, t := range texts {
			for _, m := range stepResultRef.FindAllStringSubmatch(t, -1) {
				if rs, ok := declared[m[1]]; !ok {
					errs = append(errs, fmt.Errorf("step %q: %s refers to step %q, which is not an earlier step", name, m[0]+")", m[1]))
				} else if !rs[m[2]] {
					errs = append(errs, fmt.Errorf("step %q: %s refers to result %q, which step %q does not declare", name, m[0]+")", m[2], m[1]))
				}
			}
			for _, m := range exitCodeRef.FindAllStringSubmatch(t, -1) {
				target, ok := strings.CutPrefix(m[1], "step-")
				if !ok {
					errs = append(errs, fmt.Errorf("step %q: %s: Tekton's variable is $(steps.step-<step-name>.exitCode.path)", name, m[0]))
					continue
				}
				if _, ok := declared[target]; !ok {
					errs = append(errs, fmt.Errorf("step %q: %s refers to step %q, which is not an earlier step", name, m[0], target))
				}
			}
		}
		rs := map[string]bool{}
		for _, r := range s.Results {
			rs[r.Name] = true
		}
		declared[name] = rs
	}
	for _, r := range results {
		if r.Value == nil {
			continue
		}
		for _, m := range stepResultRef.FindAllStringSubmatch(r.Value.StringVal, -1) {
			if rs, ok := declared[m[1]]; !ok {
				errs = append(errs, fmt.Errorf("result %q: refers to step %q, which does not exist", r.Name, m[1]))
			} else if !rs[m[2]] {
				errs = append(errs, fmt.Errorf("result %q: refers to result %q, which step %q does not declare", r.Name, m[2], m[1]))
			}
		}
	}
	return errors.Join(errs...)
}

// CriticalPath returns the number of TaskRuns that must run one after another from the start
// of a run of p to its end: the longest chain of the DAG of tasks (each task waits for the
// tasks it depends on, through runAfter or result references), plus one for the finally
// section when there is one (finally tasks run in parallel, after every DAG task). Tasks
// skipped by when expressions still count: the bound is for the worst case, a full release.
// It also returns the tasks of one longest chain.
func CriticalPath(p *v1.PipelineSpec) (int, []string, error) {
	g, err := dag.Build(v1.PipelineTaskList(p.Tasks), v1.PipelineTaskList(p.Tasks).Deps())
	if err != nil {
		return 0, nil, fmt.Errorf("pipeline DAG: %w", err)
	}
	memo := map[string][]string{}
	var longest func(n *dag.Node) []string
	longest = func(n *dag.Node) []string {
		if c, ok := memo[n.Key]; ok {
			return c
		}
		var best []string
		for _, prev := range n.Prev {
			if c := longest(prev); len(c) > len(best) {
				best = c
			}
		}
		chain := append(append([]string{}, best...), n.Key)
		memo[n.Key] = chain
		return chain
	}
	var path []string
	for _, name := range Names(g.Nodes) {
		if c := longest(g.Nodes[name]); len(c) > len(path) {
			path = c
		}
	}
	if len(p.Finally) > 0 {
		var names []string
		for _, f := range p.Finally {
			names = append(names, f.Name)
		}
		path = append(path, "finally("+strings.Join(names, ",")+")")
	}
	return len(path), path, nil
}

func corev1EmptyDir() corev1.EmptyDirVolumeSource { return corev1.EmptyDirVolumeSource{} }
