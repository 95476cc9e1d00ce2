package tektongen

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/release-to-prod/release-to-prod/pkg/build/tekton"
	"github.com/release-to-prod/release-to-prod/pkg/step"
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

// container builds the v1.Step of u: what is its own (image, command, memory, results, env).
// What every step of the pod shares is in the TaskSpec's stepTemplate (see taskSpec).
func (u stepUse) container() (v1.Step, error) {
	s := u.step
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
			Requests: corev1.ResourceList{corev1.ResourceMemory: mem},
			Limits:   corev1.ResourceList{corev1.ResourceMemory: mem},
		},
	}
	// Described once, as the task's results; Type is kept: Tekton reads a step result without
	// one as JSON, and SCAN_OUTPUT is a JSON object meant as a string.
	for _, r := range s.Results {
		st.Results = append(st.Results, v1.StepResult{Name: string(r), Type: v1.ResultsTypeString})
	}
	if u.onError {
		st.OnError = v1.Continue
	}
	env, err := u.env()
	if err != nil {
		return v1.Step{}, err
	}
	for _, m := range s.Mounts {
		// Read-only without saying so: the kubelet mounts Secret and ConfigMap volumes read-only.
		st.VolumeMounts = append(st.VolumeMounts, corev1.VolumeMount{Name: m.Volume, MountPath: m.Dir()})
	}
	st.Env = append(env,
		corev1.EnvVar{Name: "RESULTS_DIR", Value: "$(step.results." + string(s.Results[0]) + ".path)/.."},
		corev1.EnvVar{Name: "GOMEMLIMIT", Value: gomem},
	)
	return st, nil
}

// env is the step's settings as env, sorted by name: each from its value, its workspace or
// its param; the runtime's settings (KUBECONFIG: in-cluster) keep their defaults.
func (u stepUse) env() ([]corev1.EnvVar, error) {
	s := u.step
	if len(s.Results) == 0 {
		return nil, fmt.Errorf("step %s declares no result: its results folder has no name to derive from", s.Name)
	}
	fields, err := s.fields()
	if err != nil {
		return nil, err
	}
	ws := map[string]string{}
	for _, m := range s.Mounts {
		ws[m.FileEnv] = m.File()
	}
	for _, w := range s.Workspaces {
		ws[w.PathEnv] = "$(workspaces." + w.Workspace + ".path)"
		if w.BoundEnv != "" {
			ws[w.BoundEnv] = "$(workspaces." + w.Workspace + ".bound)"
		}
	}
	names := make([]string, 0, len(fields))
	for env := range fields {
		names = append(names, env)
	}
	sort.Strings(names)
	var out []corev1.EnvVar
	for _, env := range names {
		f := fields[env]
		var value string
		if v, ok := u.values[env]; ok {
			if v == "" && f.Default == "" {
				continue // unset is the same empty value
			}
			value = v
		} else if v, ok := ws[env]; ok {
			value = v
		} else if f.Param() != "" {
			value = "$(params." + f.Param() + ")"
		} else {
			continue
		}
		out = append(out, corev1.EnvVar{Name: env, Value: value})
	}
	return out, nil
}

// volume is the Task volume of m: the object its param names, optional, so that the pod starts
// whether or not it exists (see MountUse).
func (s *Step) volume(m MountUse) (corev1.Volume, error) {
	fields, err := s.fields()
	if err != nil {
		return corev1.Volume{}, err
	}
	f, ok := fields[m.NameEnv]
	if !ok || f.Param() == "" {
		return corev1.Volume{}, fmt.Errorf("step %s: mount %s: setting %s is not a param of the step", s.Name, m.Volume, m.NameEnv)
	}
	name := "$(params." + f.Param() + ")"
	v := corev1.Volume{Name: m.Volume}
	switch m.Kind {
	case "Secret":
		v.Secret = &corev1.SecretVolumeSource{SecretName: name, Optional: ptr.To(true)}
	case "ConfigMap":
		v.ConfigMap = &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: name}, Optional: ptr.To(true)}
	default:
		return corev1.Volume{}, fmt.Errorf("step %s: mount %s: kind %q is not Secret or ConfigMap", s.Name, m.Volume, m.Kind)
	}
	return v, nil
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
// values), workspaces, every step result as a task result (described there, once), and a
// stepTemplate with what every step of the pod shares: the restricted security context, the
// CPU request, the results budget (a function of the number of containers in the pod) and any
// env every step sets to the same value. Tekton merges the template into each step
// (v1.MergeStepsWithStepTemplate: env by name, resource lists key by key).
func taskSpec(description string, uses []stepUse) (*v1.TaskSpec, error) {
	b := taskSpecBuilder{
		spec: &v1.TaskSpec{Description: description, StepTemplate: &v1.StepTemplate{
			SecurityContext:  RestrictedSecurityContext(),
			ComputeResources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: mustQuantity("50m")}},
			Env:              []corev1.EnvVar{{Name: "RESULTS_BUDGET", Value: fmt.Sprint(tekton.ResultsBudget(len(uses)))}},
		}},
		pod:        len(uses) > 1,
		seenParam:  map[string]bool{},
		seenWS:     map[string]bool{},
		seenResult: map[step.ResultName]string{},
	}
	for _, u := range uses {
		if err := b.add(u); err != nil {
			return nil, err
		}
	}
	spec := b.spec
	if len(spec.Steps) > 1 {
		shareEnv(spec, shareMemory(spec))
	}
	return spec, nil
}

// taskSpecBuilder is a TaskSpec as its steps are added: each param, volume, workspace and
// result is declared once, by the first step that has it.
type taskSpecBuilder struct {
	spec       *v1.TaskSpec
	pod        bool // more than one step
	seenParam  map[string]bool
	seenWS     map[string]bool
	seenResult map[step.ResultName]string // result → the step that provides it
}

func (b *taskSpecBuilder) add(u stepUse) error {
	c, err := u.container()
	if err != nil {
		return err
	}
	b.spec.Steps = append(b.spec.Steps, c)
	params, fedParam, err := u.params()
	if err != nil {
		return err
	}
	for _, p := range params {
		if fedParam[p.Name] || b.seenParam[p.Name] {
			continue
		}
		b.seenParam[p.Name] = true
		b.spec.Params = append(b.spec.Params, p.spec())
	}
	if err := b.addVolumes(u); err != nil {
		return err
	}
	return b.addResults(u)
}

func (b *taskSpecBuilder) addVolumes(u stepUse) error {
	for _, m := range u.step.Mounts {
		if b.seenWS[m.Volume] {
			continue
		}
		b.seenWS[m.Volume] = true
		v, err := u.step.volume(m)
		if err != nil {
			return err
		}
		b.spec.Volumes = append(b.spec.Volumes, v)
	}
	for _, w := range u.step.Workspaces {
		if b.seenWS[w.Workspace] {
			continue
		}
		b.seenWS[w.Workspace] = true
		b.spec.Workspaces = append(b.spec.Workspaces, v1.WorkspaceDeclaration{Name: w.Workspace, Description: w.Description, Optional: w.Optional, ReadOnly: true})
	}
	return nil
}

func (b *taskSpecBuilder) addResults(u stepUse) error {
	for _, r := range u.step.Results {
		if other, dup := b.seenResult[r]; dup {
			if b.pod && u.step.Name != other {
				continue // the first step that writes a result provides it
			}
		}
		b.seenResult[r] = u.step.Name
		desc, err := describe(r)
		if err != nil {
			return fmt.Errorf("step %s: %w", u.step.Name, err)
		}
		// No type: Tekton defaults a task result to string (TaskSpec.SetDefaults, which
		// the webhook and the reconcilers apply to every spec, inline ones included).
		b.spec.Results = append(b.spec.Results, v1.TaskResult{Name: string(r), Description: desc,
			Value: v1.NewStructuredValues("$(steps." + u.step.Name + ".results." + string(r) + ")")})
	}
	return nil
}

// shareMemory moves the memory request and limit into the stepTemplate when every step has
// the same, and says whether it did.
func shareMemory(spec *v1.TaskSpec) bool {
	mem := spec.Steps[0].ComputeResources.Limits[corev1.ResourceMemory]
	for _, st := range spec.Steps {
		if m := st.ComputeResources.Limits[corev1.ResourceMemory]; m.Cmp(mem) != 0 {
			return false
		}
	}
	spec.StepTemplate.ComputeResources.Requests[corev1.ResourceMemory] = mem
	spec.StepTemplate.ComputeResources.Limits = corev1.ResourceList{corev1.ResourceMemory: mem}
	for i := range spec.Steps {
		spec.Steps[i].ComputeResources = corev1.ResourceRequirements{}
	}
	return true
}

// shareEnv moves into the stepTemplate each env var that every step sets to the same value.
// Only those: a step given a setting it does not read, or a value it does not expect, would
// not be the step its config struct describes. GOMEMLIMIT goes only with the memory limit it
// is 90% of (memShared).
func shareEnv(spec *v1.TaskSpec, memShared bool) {
	count := map[corev1.EnvVar]int{}
	for _, st := range spec.Steps {
		for _, e := range st.Env {
			count[e]++
		}
	}
	shared := map[corev1.EnvVar]bool{}
	for _, e := range spec.Steps[0].Env {
		if count[e] == len(spec.Steps) && (e.Name != "GOMEMLIMIT" || memShared) {
			shared[e] = true
			spec.StepTemplate.Env = append(spec.StepTemplate.Env, e)
		}
	}
	for i := range spec.Steps {
		spec.Steps[i].Env = slices.DeleteFunc(spec.Steps[i].Env, func(e corev1.EnvVar) bool { return shared[e] })
	}
}

func (p Param) spec() v1.ParamSpec {
	// No type: Tekton defaults a param to string (ParamSpec.SetDefaults).
	ps := v1.ParamSpec{Name: p.Name, Description: p.Description}
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
