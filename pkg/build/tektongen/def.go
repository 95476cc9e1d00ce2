// Package tektongen generates the project's Tekton interface — every Task, the Pipeline and the
// tables of the Task READMEs — from one source: each step's Go config struct (its settings,
// with their env names, descriptions, defaults and checks) plus a small overlay, in this
// package, for what Go cannot say (results, workspaces, memory, how the Pipeline wires the
// steps together).
//
// Steps are inlined into every Task and into the Pipeline's tasks: a Konflux tenant may create
// PipelineRuns but no Task, Pipeline or StepAction, and a StepAction referenced by name is
// looked up only in the TaskRun's own namespace (tektoncd GetStepActionFunc). Inlined, the
// Pipeline is one self-contained document that a PipelineRun fetches by the git or bundles
// resolver, or embeds (tkn pipeline start -f).
package tektongen

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/release-to-prod/release-to-prod/pkg/build/tekton"
	"github.com/release-to-prod/release-to-prod/pkg/step"
)

// Version is the catalog version of every Task and the Pipeline (their folder and the
// app.kubernetes.io/version label).
const Version = "0.1"

// ImageTag is the tag of the step images the generated YAML names (bundles pin them by digest).
const ImageTag = tekton.StepImageTag

// ImageRepository is where the step images live: <ImageRepository><step>:<ImageTag>.
const ImageRepository = tekton.StepImageRepository

// BinDir is where a step image holds its binary (pkg/build/imagebuild, images/Containerfile).
const BinDir = "/usr/local/bin"

// Step is one step binary and what Tekton needs to know of it besides its config struct.
type Step struct {
	Name        string // binary, image and step name
	DisplayName string
	Description string
	Config      any               // pointer to the step's config struct
	Results     []step.ResultName // declared beside the step's code; described in resultDocs
	Workspaces  []WorkspaceUse
	Mounts      []MountUse
	// Memory is the container's memory limit (and request), from the step's measured peak
	// (make bench); GOMEMLIMIT is set to 90% of it so the Go runtime collects before the
	// cgroup kills.
	Memory string
	// Categories and Tags are the catalog annotations of the step's Task.
	Tags string
	// NoTask is true for a step that exists only inside the Pipeline (the verdict, input check).
	NoTask bool
	// PipelineParams is true for the step whose config is generated from the Pipeline's params
	// (check-input): its params are those, each in the env var of its upper-case name, so the
	// YAML never depends on a stale generated config.
	PipelineParams bool
}

// WorkspaceUse is a workspace a step reads a file (or folder) from; the settings it feeds are
// not params.
type WorkspaceUse struct {
	Workspace   string
	Description string
	Optional    bool
	// PathEnv receives the workspace's path.
	PathEnv string
	// BoundEnv receives "$(workspaces.<name>.bound)".
	BoundEnv string
}

// MountUse is a Secret or ConfigMap a step reads one file of. The Task mounts it itself, from a
// volume named by a param with optional: true, never from a workspace: a workspace bound to an
// object that does not exist leaves the pod in ContainerCreating (the kubelet's FailedMount)
// until the run times out, whereas an optional volume always lets the pod start and the step
// says within a second which object or key is missing (step.Mounted).
type MountUse struct {
	Volume  string // the volume's name; mounted read-only at MountDir/<Volume>
	Kind    string // "Secret" or "ConfigMap"
	NameEnv string // the setting that names the object: its param names the volume's object
	FileEnv string // receives MountDir/<Volume>/<key>
	Key     string // the key, when fixed
	// KeyParam, when set, is a param naming the key instead.
	KeyParam *Param
}

// MountDir is where a step finds the Secrets and ConfigMaps its Task mounts (MountUse).
const MountDir = "/mnt"

// Dir is the folder the volume is mounted at.
func (m MountUse) Dir() string { return MountDir + "/" + m.Volume }

// File is the value of FileEnv: the key's file in the mount.
func (m MountUse) File() string {
	if m.KeyParam != nil {
		return m.Dir() + "/$(params." + m.KeyParam.Name + ")"
	}
	return m.Dir() + "/" + m.Key
}

// Param is a Tekton string param.
type Param struct {
	Name        string
	Description string
	Default     *string // nil: required
	Check       string  // the rule its value follows (step.Check), for check-input
}

// Params lists the params of a step: every setting that has one (step.Field.Param), minus
// those its workspaces feed.
func (s *Step) Params() ([]Param, error) {
	if s.PipelineParams {
		all, err := PipelineParams()
		if err != nil {
			return nil, err
		}
		var out []Param
		for _, p := range all {
			if p.Check != "" {
				out = append(out, p)
			}
		}
		return out, nil
	}
	fields, err := step.EnvFields(s.Config)
	if err != nil {
		return nil, fmt.Errorf("step %s: %w", s.Name, err)
	}
	fed := map[string]bool{}
	for _, w := range s.Workspaces {
		fed[w.PathEnv], fed[w.BoundEnv] = true, true
	}
	for _, m := range s.Mounts {
		fed[m.FileEnv] = true
	}
	var out []Param
	for _, f := range fields {
		if f.Param() == "" || fed[f.Env] {
			continue
		}
		p := Param{Name: f.Param(), Description: sentence(f.Desc), Check: f.Rule()}
		if !f.Required {
			d := f.Default
			p.Default = &d
		}
		out = append(out, p)
	}
	for _, m := range s.Mounts {
		if m.KeyParam != nil {
			out = append(out, *m.KeyParam)
		}
	}
	return out, nil
}

// fields returns the step's settings by env name.
func (s *Step) fields() (map[string]step.Field, error) {
	if s.PipelineParams {
		params, err := s.Params()
		if err != nil {
			return nil, err
		}
		out := map[string]step.Field{}
		for _, p := range params {
			out[strings.ToUpper(p.Name)] = step.Field{Env: strings.ToUpper(p.Name), ParamName: p.Name, Check: p.Check}
		}
		return out, nil
	}
	fields, err := step.EnvFields(s.Config)
	if err != nil {
		return nil, fmt.Errorf("step %s: %w", s.Name, err)
	}
	out := map[string]step.Field{}
	for _, f := range fields {
		out[f.Env] = f
	}
	return out, nil
}

// Image is the step's image reference.
func (s *Step) Image() string { return ImageRepository + s.Name + ":" + ImageTag }

// Command is the step's explicit command: with it the controller need not fetch the image's
// config from the registry to find the entrypoint (docs/container-contract.md).
func (s *Step) Command() []string { return []string{BinDir + "/" + s.Name} }

// MemoryLimit parses Memory.
func (s *Step) MemoryLimit() (resource.Quantity, error) {
	q, err := resource.ParseQuantity(s.Memory)
	if err != nil {
		return q, fmt.Errorf("step %s: memory %q: %w", s.Name, s.Memory, err)
	}
	return q, nil
}

// GoMemLimit is GOMEMLIMIT for the step's container: 90% of its memory limit, in MiB.
func (s *Step) GoMemLimit() (string, error) {
	q, err := s.MemoryLimit()
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%dMiB", q.Value()*9/10/(1<<20)), nil
}

// sentence makes a config description a Tekton description: capitalised, ending with a period.
func sentence(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return s
	}
	for _, word := range []string{"true", "false"} {
		if strings.HasPrefix(s, word+" ") || strings.HasPrefix(s, word+":") {
			s = `"` + word + `"` + s[len(word):] // a param value, quoted as the user types it
		}
	}
	s = strings.ToUpper(s[:1]) + s[1:]
	if !strings.HasSuffix(s, ".") {
		s += "."
	}
	return s
}
