package tekton

import (
	"errors"
	"fmt"
	"strconv"

	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	corev1 "k8s.io/api/core/v1"
)

// What the kubelet keeps of a pod's termination messages, which carry the steps' results: at
// most 12288 bytes for the pod, split evenly between its containers, init containers included
// (kubernetes pkg/kubelet/status normalizeStatus); Tekton keeps at most 4096 per container.
const (
	PodTerminationBudget       = 12288
	ContainerTerminationBudget = 4096
	// InitContainers is what Tekton adds to a pod of steps that have no script and no
	// workingDir: the "prepare" init container that copies the entrypoint.
	InitContainers = 1
	// EntrypointOverhead is what Tekton's entrypoint writes into a step's termination message
	// besides its results (StartedAt; ExitCode under onError: continue), with margin.
	EntrypointOverhead = 160
)

// ContainerBudget is the termination message a container of a pod of steps steps keeps.
func ContainerBudget(steps int) int {
	return min(ContainerTerminationBudget, PodTerminationBudget/(steps+InitContainers))
}

// ResultsBudget is what one step of a pod of steps steps may write as results: its
// container's share less the entrypoint's own entries.
func ResultsBudget(steps int) int { return ContainerBudget(steps) - EntrypointOverhead }

// CheckTenant applies what a Konflux tenant's cluster requires of every Task, StepAction and
// Pipeline, beyond Tekton's own validation:
//   - no step refs a StepAction by name (GetStepActionFunc looks only in the TaskRun's
//     namespace, where a tenant cannot create StepActions);
//   - every step has an explicit command (else the controller fetches the image's config from
//     the registry with the ServiceAccount's pull secrets);
//   - a restricted securityContext without a fixed runAsUser (OpenShift's restricted-v2 SCC
//     assigns the user);
//   - each step that writes results is told its share of the pod's termination messages
//     (RESULTS_BUDGET) and it is no more than the kubelet keeps.
func (r *Repo) CheckTenant() error {
	var errs []error
	add := func(kind, name string, err error) {
		if err != nil {
			errs = append(errs, &FileError{Path: r.Path[kind+"/"+name], Err: err})
		}
	}
	for _, name := range Names(r.StepActions) {
		sa := r.StepActions[name]
		add("StepAction", name, securityContext("StepAction "+name, sa.Spec.SecurityContext))
	}
	for _, name := range Names(r.Tasks) {
		add("Task", name, tenantSpec(&r.Tasks[name].Spec))
	}
	for _, name := range Names(r.Pipelines) {
		p := r.Pipelines[name]
		for _, pt := range append(append([]v1.PipelineTask{}, p.Spec.Tasks...), p.Spec.Finally...) {
			if pt.TaskSpec != nil {
				if err := tenantSpec(&pt.TaskSpec.TaskSpec); err != nil {
					add("Pipeline", name, fmt.Errorf("task %s: %w", pt.Name, err))
				}
			}
		}
	}
	return errors.Join(errs...)
}

func tenantSpec(spec *v1.TaskSpec) error {
	// The containers as the pod builder makes them: each step merged with the stepTemplate.
	steps, err := v1.MergeStepsWithStepTemplate(spec.StepTemplate, spec.Steps)
	if err != nil {
		return fmt.Errorf("merging the stepTemplate: %w", err)
	}
	var errs []error
	budget := ResultsBudget(len(spec.Steps))
	for _, s := range steps {
		where := "step " + s.Name
		if s.Ref != nil {
			if s.Ref.Resolver == "" {
				errs = append(errs, fmt.Errorf("%s refs StepAction %q by name: a tenant cannot install StepActions, and Tekton looks a name ref up only in the TaskRun's namespace; inline the step (make generate)", where, s.Ref.Name))
			}
			continue // the StepAction carries image, command and securityContext
		}
		if len(s.Command) == 0 {
			errs = append(errs, fmt.Errorf("%s has no command: without one the controller fetches the image's config from the registry to find its entrypoint", where))
		}
		if err := securityContext(where, s.SecurityContext); err != nil {
			errs = append(errs, err)
		}
		if len(s.Results) == 0 {
			continue
		}
		v, ok := env(s.Env, "RESULTS_BUDGET")
		n, err := strconv.Atoi(v)
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("%s writes results but is not told its budget (env RESULTS_BUDGET, at most %d bytes in a pod of %d steps)", where, budget, len(spec.Steps)))
		case err != nil || n > budget:
			errs = append(errs, fmt.Errorf("%s: RESULTS_BUDGET %q is over the %d bytes the kubelet keeps for a step of a %d-step pod (12288 / %d containers, less Tekton's own entries)", where, v, budget, len(spec.Steps), len(spec.Steps)+InitContainers))
		}
	}
	return errors.Join(errs...)
}

func env(list []corev1.EnvVar, name string) (string, bool) {
	for _, e := range list {
		if e.Name == name {
			return e.Value, true
		}
	}
	return "", false
}

// securityContext checks what restricted pod security and the restricted-v2 SCC accept.
func securityContext(where string, sc *corev1.SecurityContext) error {
	if sc == nil {
		return fmt.Errorf("%s has no securityContext: restricted pod security requires runAsNonRoot, no privilege escalation, capabilities drop ALL and seccompProfile RuntimeDefault", where)
	}
	var errs []error
	if sc.RunAsUser != nil {
		errs = append(errs, fmt.Errorf("%s sets runAsUser %d: OpenShift's restricted-v2 SCC rejects a fixed user (it assigns one from the namespace's range); the image's numeric USER serves elsewhere", where, *sc.RunAsUser))
	}
	if sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot {
		errs = append(errs, fmt.Errorf("%s: securityContext.runAsNonRoot is not true", where))
	}
	if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		errs = append(errs, fmt.Errorf("%s: securityContext.allowPrivilegeEscalation is not false", where))
	}
	drops := false
	if sc.Capabilities != nil {
		for _, c := range sc.Capabilities.Drop {
			drops = drops || c == "ALL"
		}
	}
	if !drops {
		errs = append(errs, fmt.Errorf("%s: securityContext.capabilities.drop does not hold ALL", where))
	}
	if sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		errs = append(errs, fmt.Errorf("%s: securityContext.seccompProfile is not RuntimeDefault", where))
	}
	return errors.Join(errs...)
}
