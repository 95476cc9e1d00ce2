package tektongen

import (
	"fmt"
	"sort"
	"strings"

	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/release-to-prod/release-to-prod/pkg/tekton"
)

// stepUse is a step placed in a TaskSpec: where each of its settings comes from.
type stepUse struct {
	step    *Step
	onError bool
	// values maps an env name to the value expression that feeds it; settings not listed
	// come from $(params.<param>).
	values map[string]string
}

// params returns the step's params and, of them, those its values feed (no param needed).
func (u stepUse) params() ([]Param, map[string]bool, error) {
	params, err := u.step.Params()
	if err != nil {
		return nil, nil, err
	}
	fields, err := u.step.fields()
	if err != nil {
		return nil, nil, err
	}
	fed := map[string]bool{}
	for env, f := range fields {
		if _, ok := u.values[env]; ok {
			fed[f.Param()] = true
		}
	}
	return params, fed, nil
}

// container builds the v1.Step of u in a pod of n steps.
func (u stepUse) container(n int) (v1.Step, error) {
	s := u.step
	fields, err := s.fields()
	if err != nil {
		return v1.Step{}, err
	}
	mem, err := s.MemoryLimit()
	if err != nil {
		return v1.Step{}, err
	}
	gomem, err := s.GoMemLimit()
	if err != nil {
		return v1.Step{}, err
	}
	st := v1.Step{
		Name:    s.Name,
		Image:   s.Image(),
		Command: s.Command(),
		ComputeResources: corev1.ResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceCPU: mustQuantity("50m"), corev1.ResourceMemory: mem},
			Limits:   corev1.ResourceList{corev1.ResourceMemory: mem},
		},
		SecurityContext: RestrictedSecurityContext(),
	}
	for _, r := range s.Results {
		st.Results = append(st.Results, v1.StepResult{Name: r.Name, Type: v1.ResultsTypeString, Description: r.Description})
	}
	if u.onError {
		st.OnError = v1.Continue
	}
	ws := map[string]string{}
	for _, w := range s.Workspaces {
		path := "$(workspaces." + w.Workspace + ".path)"
		switch {
		case w.KeyParam != nil:
			path += "/$(params." + w.KeyParam.Name + ")"
		case w.File != "":
			path += "/" + w.File
		}
		ws[w.PathEnv] = path
		if w.BoundEnv != "" {
			ws[w.BoundEnv] = "$(workspaces." + w.Workspace + ".bound)"
		}
	}
	names := make([]string, 0, len(fields))
	for env := range fields {
		names = append(names, env)
	}
	sort.Strings(names)
	for _, env := range names {
		f := fields[env]
		var value string
		if v, ok := u.values[env]; ok {
			value = v
		} else if v, ok := ws[env]; ok {
			value = v
		} else if f.Param() != "" {
			value = "$(params." + f.Param() + ")"
		} else {
			continue // runtime settings keep their defaults (KUBECONFIG: in-cluster)
		}
		st.Env = append(st.Env, corev1.EnvVar{Name: env, Value: value})
	}
	if len(s.Results) == 0 {
		return v1.Step{}, fmt.Errorf("step %s declares no result: its results folder has no name to derive from", s.Name)
	}
	st.Env = append(st.Env,
		corev1.EnvVar{Name: "RESULTS_DIR", Value: "$(step.results." + s.Results[0].Name + ".path)/.."},
		corev1.EnvVar{Name: "RESULTS_BUDGET", Value: fmt.Sprint(tekton.ResultsBudget(n))},
		corev1.EnvVar{Name: "GOMEMLIMIT", Value: gomem},
	)
	return st, nil
}

// RestrictedSecurityContext is what restricted pod security and OpenShift's restricted-v2 SCC
// accept: no fixed user (the SCC assigns one from the namespace's range; the image's numeric
// USER serves elsewhere), non-root, no privilege escalation, no capabilities, the runtime's
// seccomp profile, and a read-only root filesystem (steps write only to Tekton's volumes).
func RestrictedSecurityContext() *corev1.SecurityContext {
	return &corev1.SecurityContext{
		RunAsNonRoot:             ptr.To(true),
		AllowPrivilegeEscalation: ptr.To(false),
		ReadOnlyRootFilesystem:   ptr.To(true),
		Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
		SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}
}

// taskSpec builds the TaskSpec running uses in one pod: params (of the settings not fed by
// values), workspaces and every step result as a task result.
func taskSpec(description string, uses []stepUse) (*v1.TaskSpec, error) {
	spec := &v1.TaskSpec{Description: description}
	seenParam, seenWS, seenResult := map[string]bool{}, map[string]bool{}, map[string]string{}
	for _, u := range uses {
		c, err := u.container(len(uses))
		if err != nil {
			return nil, err
		}
		spec.Steps = append(spec.Steps, c)
		params, fedParam, err := u.params()
		if err != nil {
			return nil, err
		}
		for _, p := range params {
			if fedParam[p.Name] || seenParam[p.Name] {
				continue
			}
			seenParam[p.Name] = true
			spec.Params = append(spec.Params, p.spec())
		}
		for _, w := range u.step.Workspaces {
			if seenWS[w.Workspace] {
				continue
			}
			seenWS[w.Workspace] = true
			spec.Workspaces = append(spec.Workspaces, v1.WorkspaceDeclaration{Name: w.Workspace, Description: w.Description, Optional: w.Optional, ReadOnly: true})
		}
		for _, r := range u.step.Results {
			if other, dup := seenResult[r.Name]; dup {
				if len(uses) > 1 && u.step.Name != other {
					continue // the first step that writes a result provides it
				}
			}
			seenResult[r.Name] = u.step.Name
			spec.Results = append(spec.Results, v1.TaskResult{Name: r.Name, Type: v1.ResultsTypeString, Description: r.Description,
				Value: v1.NewStructuredValues("$(steps." + u.step.Name + ".results." + r.Name + ")")})
		}
	}
	return spec, nil
}

func (p Param) spec() v1.ParamSpec {
	ps := v1.ParamSpec{Name: p.Name, Type: v1.ParamTypeString, Description: p.Description}
	if p.Default != nil {
		ps.Default = v1.NewStructuredValues(*p.Default)
	}
	return ps
}

// Task is the catalog Task of one step: the step alone, its settings as params.
func Task(s *Step) (*v1.Task, error) {
	spec, err := taskSpec(s.Description, []stepUse{{step: s}})
	if err != nil {
		return nil, err
	}
	t := &v1.Task{
		TypeMeta:   metav1.TypeMeta{APIVersion: "tekton.dev/v1", Kind: "Task"},
		ObjectMeta: catalogMeta(s.Name, s.DisplayName, s.Tags),
		Spec:       *spec,
	}
	return t, nil
}

func catalogMeta(name, display, tags string) metav1.ObjectMeta {
	if tags == "" {
		tags = "konflux, release"
	}
	return metav1.ObjectMeta{
		Name:   name,
		Labels: map[string]string{"app.kubernetes.io/version": Version},
		Annotations: map[string]string{
			"tekton.dev/pipelines.minVersion": "1.0.0",
			"tekton.dev/categories":           "Release",
			"tekton.dev/tags":                 tags,
			"tekton.dev/displayName":          display,
			"tekton.dev/platforms":            "linux/amd64,linux/arm64",
		},
	}
}

// CheckDescriptions fails when one param name carries different descriptions in different
// steps: a param means one thing everywhere.
func CheckDescriptions() error {
	seen := map[string]string{}
	from := map[string]string{}
	var problems []string
	for _, s := range Steps {
		if s.PipelineParams {
			continue // its config is generated from the others
		}
		params, err := s.Params()
		if err != nil {
			return err
		}
		for _, p := range params {
			if d, ok := seen[p.Name]; ok && d != p.Description {
				problems = append(problems, fmt.Sprintf("param %s: step %s says %q, step %s says %q", p.Name, from[p.Name], d, s.Name, p.Description))
				continue
			}
			seen[p.Name], from[p.Name] = p.Description, s.Name
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("one param, one description (edit the desc tags of the config structs):\n  %s", strings.Join(problems, "\n  "))
	}
	return nil
}
