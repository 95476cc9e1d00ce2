package step

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/release-to-prod/release-to-prod/pkg/step/failure"
)

// Mounted is a file a step reads from a Secret or ConfigMap that its Task mounts itself: a Task
// volume named by a param, with optional: true. A workspace bound to an object that does not
// exist leaves the pod in ContainerCreating until the run times out (the kubelet's FailedMount;
// Tekton fails a TaskRun fast only on container config and image pull errors), whereas an
// optional volume always lets the pod start: what is missing is an empty folder, or a folder
// without the key, which the step sees within a second and explains (Resolve).
//
// A missing object under its conventional name (Default, the param's default) means "not
// configured", as an unbound workspace did; a name the user chose that does not exist, or an
// object without the key, is invalid input.
type Mounted struct {
	Kind     string // "Secret" or "ConfigMap"
	Name     string // the object's name, as the run gave it
	Param    string // the param naming the object
	Default  string // its conventional name: absent means not configured
	File     string // <mount folder>/<key>
	KeyParam string // the param naming the key; empty when the key is fixed
	// Alternates are keys of one family: when the key is one of them and missing, the others
	// are read (a CA bundle is ca-bundle.crt in Konflux's trusted-ca, ca.crt in a service CA).
	Alternates []string

	err error // a setting MountOf did not find (a bug of the step): Resolve returns it
}

// MountOf describes the file of setting fileEnv of cfg (a pointer to a step's config struct),
// mounted from the object named by setting nameEnv: the param and the conventional name come
// from nameEnv's tags, so that the step and the generated Task agree. A config without nameEnv
// is an error of the step, which Resolve returns (like bufio.Scanner, so that a mount is
// described, adjusted and resolved with one error check).
func MountOf(cfg any, kind, nameEnv, name, file string) Mounted {
	f, err := fieldOf(cfg, nameEnv)
	if err != nil {
		return Mounted{err: err}
	}
	return Mounted{Kind: kind, Name: strings.TrimSpace(name), Param: f.Param(), Default: f.Default, File: file}
}

// WithKeyParam returns m with the param that names its key.
func (m Mounted) WithKeyParam(p string) Mounted { m.KeyParam = p; return m }

// Key is the key the step reads: the file's name.
func (m Mounted) Key() string { return filepath.Base(m.File) }

// Resolve returns the file to read; "" when nothing is configured: no file was given, or the
// object under its conventional name is absent (NotConfigured says so in one line). An object
// the user named that is absent, or an object without the key, is a failure.InvalidInput naming
// the object, the key and the fix.
func (m Mounted) Resolve() (string, error) {
	if m.err != nil {
		return "", m.err
	}
	if m.File == "" {
		return "", nil
	}
	if m.Name == "" {
		return m.File, nil // a file given directly (a laptop): its reader says what is wrong
	}
	if _, err := os.Stat(m.File); err == nil {
		return m.File, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", failure.AsInvalid(fmt.Errorf("%s %s, key %s: %w", m.Kind, m.Name, m.Key(), err))
	}
	keys, err := m.keys()
	if err != nil {
		return "", err
	}
	if len(keys) == 0 {
		if m.Name == m.Default {
			return "", nil
		}
		return "", m.fail("does not exist in this namespace (or holds no key)",
			fmt.Sprintf("create it (%s), or set %s to the %s that holds it", m.create(), m.Param, m.Kind))
	}
	if f, ok := AlternateFile(m.File, m.Alternates); ok {
		return f, nil
	}
	fix := fmt.Sprintf("add the key to it (kubectl edit %s %s, or re-create it: %s)", strings.ToLower(m.Kind), m.Name, m.create())
	if m.KeyParam != "" {
		fix += ", or set " + m.KeyParam + " to the key that holds it"
	}
	return "", m.fail(fmt.Sprintf("has no key %s (its keys: %s)", m.Key(), strings.Join(keys, ", ")), fix)
}

// Where says where the file comes from, for advice: the object and key the Task mounted, or
// the file given directly.
func (m Mounted) Where() string {
	if m.Name == "" {
		return "file " + m.File
	}
	return fmt.Sprintf("%s %s (key %s)", m.Kind, m.Name, m.Key())
}

// NotConfigured is the line a step prints when Resolve found nothing to read.
func (m Mounted) NotConfigured() string {
	if m.File == "" {
		return "not configured"
	}
	return fmt.Sprintf("not configured (no %s %s in this namespace; %s names another)", m.Kind, m.Name, m.Param)
}

func (m Mounted) fail(problem, fix string) error {
	return failure.New(failure.MountMissing, map[string]string{"kind": m.Kind, "name": m.Name, "param": m.Param,
		"key": m.Key(), "problem": problem, "fix": fix},
		"%s %s (param %s), key %s: %s", m.Kind, m.Name, m.Param, m.Key(), problem)
}

// create is the command that makes the object with the key.
func (m Mounted) create() string {
	if m.Kind == "ConfigMap" {
		return fmt.Sprintf("kubectl create configmap %s --from-file=%s=<file> -n <namespace>", m.Name, m.Key())
	}
	return fmt.Sprintf("kubectl create secret generic %s --from-file=%s=<file> -n <namespace>", m.Name, m.Key())
}

// keys lists the keys in the mount folder: the kubelet's own entries (..data, ..<timestamp>)
// are not keys.
func (m Mounted) keys() ([]string, error) {
	entries, err := os.ReadDir(filepath.Dir(m.File))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, failure.AsInvalid(fmt.Errorf("%s %s: listing its keys: %w", m.Kind, m.Name, err))
	}
	var keys []string
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), "..") {
			keys = append(keys, e.Name())
		}
	}
	return keys, nil // os.ReadDir sorts by name
}

// AlternateFile is, when path's name is one of the keys of family, the first of family that
// exists beside it (a CA bundle is ca.crt in a service CA, ca-bundle.crt in Konflux's
// trusted-ca): the one lookup of the step that resolves a mount and of the client that reads it.
func AlternateFile(path string, family []string) (string, bool) {
	if !slices.Contains(family, filepath.Base(path)) {
		return "", false
	}
	for _, k := range family {
		f := filepath.Join(filepath.Dir(path), k)
		if _, err := os.Stat(f); err == nil {
			return f, true
		}
	}
	return "", false
}
