// Package tekton loads and checks this repository's Tekton YAML with tektoncd/pipeline's own
// code: every Task, StepAction and Pipeline is decoded strictly (an unknown field is an error),
// defaulted and validated the way the admission webhook does it, StepAction references are
// resolved the way the TaskRun reconciler resolves them, and a Pipeline is wired the way the
// PipelineRun reconciler checks it before it creates the first TaskRun (result references,
// required params, param types, workspace bindings, the DAG of tasks and of finally).
//
// It is an adapter: the checks are Tekton's; this package only feeds them the repository's
// files instead of a cluster. The few checks Tekton leaves to run time (a step result or exit
// code referenced by a step, a param passed to a StepAction that does not declare it) are
// added here so they fail before a cluster sees the YAML.
package tekton

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	"github.com/tektoncd/pipeline/pkg/apis/pipeline/v1beta1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// StepImageRepository is where the step images live: <StepImageRepository><step>:<StepImageTag>.
const StepImageRepository = "quay.io/release-to-prod/"

// StepImageTag is the tag of the step images this checkout builds and its YAML names.
const StepImageTag = "0.1.0"

// Folders of the repository that hold Tekton YAML, in the Tekton catalog layout
// (<folder>/<name>/<version>/<name>.yaml).
var Folders = []string{"stepactions", "tasks", "pipelines"}

// Repo is the Tekton YAML of a repository, decoded strictly.
type Repo struct {
	Root        string
	Tasks       map[string]*v1.Task
	StepActions map[string]*v1beta1.StepAction
	Pipelines   map[string]*v1.Pipeline
	// Path is the file each object came from, keyed by Kind/name.
	Path map[string]string
}

// FileError is a problem with one file.
type FileError struct {
	Path string
	Err  error
}

func (e *FileError) Error() string { return e.Path + ": " + e.Err.Error() }
func (e *FileError) Unwrap() error { return e.Err }

// Load decodes every *.yaml / *.yml under root's stepactions/, tasks/ and pipelines/ folders. It
// returns what it could decode and one error per file that failed (joined).
func Load(root string) (*Repo, error) {
	r := NewRepo(root)
	var errs []error
	for _, dir := range Folders {
		files, err := yamlFiles(filepath.Join(root, dir))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, f := range files {
			if err := r.AddFile(f); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return r, errors.Join(errs...)
}

// NewRepo returns an empty Repo.
func NewRepo(root string) *Repo {
	return &Repo{
		Root:        root,
		Tasks:       map[string]*v1.Task{},
		StepActions: map[string]*v1beta1.StepAction{},
		Pipelines:   map[string]*v1.Pipeline{},
		Path:        map[string]string{},
	}
}

// yamlFiles lists the YAML files under dir, sorted; a missing dir is empty.
func yamlFiles(dir string) ([]string, error) {
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && p == dir {
				return fs.SkipDir
			}
			return err
		}
		if !d.IsDir() && (strings.HasSuffix(p, ".yaml") || strings.HasSuffix(p, ".yml")) {
			out = append(out, p)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", dir, err)
	}
	sort.Strings(out)
	return out, nil
}

// AddFile decodes one file and adds its object to the Repo.
func (r *Repo) AddFile(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return &FileError{path, err}
	}
	obj, err := Decode(data)
	if err != nil {
		return &FileError{path, err}
	}
	return r.add(path, obj)
}

func (r *Repo) add(path string, obj any) error {
	var key string
	switch o := obj.(type) {
	case *v1.Task:
		key = "Task/" + o.Name
		if _, dup := r.Tasks[o.Name]; !dup {
			r.Tasks[o.Name] = o
		}
	case *v1beta1.StepAction:
		key = "StepAction/" + o.Name
		if _, dup := r.StepActions[o.Name]; !dup {
			r.StepActions[o.Name] = o
		}
	case *v1.Pipeline:
		key = "Pipeline/" + o.Name
		if _, dup := r.Pipelines[o.Name]; !dup {
			r.Pipelines[o.Name] = o
		}
	}
	if prev, dup := r.Path[key]; dup {
		return &FileError{path, fmt.Errorf("%s is already defined in %s: names must be unique, they share one namespace", key, prev)}
	}
	r.Path[key] = path
	return nil
}

// Decode decodes one Tekton object strictly: a Task (tekton.dev/v1), a StepAction
// (tekton.dev/v1beta1) or a Pipeline (tekton.dev/v1). Unknown fields, another kind or API
// version, and several documents in one file are errors.
func Decode(data []byte) (any, error) {
	if n := documents(data); n != 1 {
		return nil, fmt.Errorf("want exactly one YAML document, found %d", n)
	}
	var tm metav1.TypeMeta
	if err := yaml.Unmarshal(data, &tm); err != nil {
		return nil, fmt.Errorf("decoding: %w", err)
	}
	var obj any
	switch tm.APIVersion + " " + tm.Kind {
	case "tekton.dev/v1 Task":
		obj = &v1.Task{}
	case "tekton.dev/v1beta1 StepAction":
		obj = &v1beta1.StepAction{}
	case "tekton.dev/v1 Pipeline":
		obj = &v1.Pipeline{}
	default:
		return nil, fmt.Errorf("unsupported kind %q apiVersion %q: want Task or Pipeline (tekton.dev/v1) or StepAction (tekton.dev/v1beta1)", tm.Kind, tm.APIVersion)
	}
	if err := yaml.UnmarshalStrict(data, obj); err != nil {
		return nil, fmt.Errorf("decoding %s: %w", tm.Kind, err)
	}
	return obj, nil
}

// documents counts the non-empty YAML documents in data.
func documents(data []byte) int {
	n := 0
	for _, doc := range bytes.Split(append([]byte("\n"), data...), []byte("\n---")) {
		for _, line := range strings.Split(string(doc), "\n") {
			t := strings.TrimSpace(line)
			if t != "" && !strings.HasPrefix(t, "#") && !strings.HasPrefix(line, "---") {
				n++
				break
			}
		}
	}
	return n
}

// Names returns the sorted keys of m.
func Names[T any](m map[string]T) []string { return slices.Sorted(maps.Keys(m)) }
