// Package depcheck guards what a binary links, like go-containerregistry's internal/depcheck: a
// step that never talks to Kubernetes stays small and starts fast only as long as nothing pulls
// client-go (and with it apimachinery, the API types and their codecs) into it by accident — one
// import of a helper from the wrong package is enough. It asks `go list -deps`.
package depcheck

import (
	"errors"
	"fmt"
	"os/exec"
	"sort"
	"strings"
	"testing"
)

// Kubernetes are the import path prefixes of the Kubernetes client stack and of Tekton's.
var Kubernetes = []string{"k8s.io/", "sigs.k8s.io/", "github.com/tektoncd/"}

// NoKubernetes fails t when pkg (an import path, or "." for the test's own package) links a
// package under one of the Kubernetes prefixes, naming the imports that bring them in.
func NoKubernetes(t *testing.T, pkg string) {
	t.Helper()
	AssertNoDependency(t, pkg, Kubernetes...)
}

// AssertNoDependency fails t when pkg links a package whose path starts with one of prefixes.
func AssertNoDependency(t *testing.T, pkg string, prefixes ...string) {
	t.Helper()
	root, deps, err := Linked(pkg)
	if err != nil {
		t.Fatal(err)
	}
	if bad, entries := Forbidden(deps, prefixes); len(bad) > 0 {
		t.Errorf("%s links %d packages it must not (under %s); they come in by:\n  %s",
			root, len(bad), strings.Join(prefixes, ", "), strings.Join(entries, "\n  "))
	}
}

// Linked maps each package that pkg links (in the default build: this GOOS and GOARCH, no tags)
// to its imports; root is pkg's import path.
func Linked(pkg string) (root string, deps map[string][]string, err error) {
	out, err := exec.Command("go", "list", "-deps", "-f", `{{.ImportPath}} {{join .Imports " "}}`, pkg).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return "", nil, fmt.Errorf("go list -deps %s: %w\n%s", pkg, err, ee.Stderr)
		}
		return "", nil, fmt.Errorf("go list -deps %s: %w", pkg, err)
	}
	deps = map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if f := strings.Fields(line); len(f) > 0 {
			deps[f[0]] = f[1:]
			root = f[0] // -deps lists in post-order: the named package comes last
		}
	}
	if len(deps) == 0 {
		return "", nil, fmt.Errorf("go list -deps %s listed nothing", pkg)
	}
	return root, deps, nil
}

// Forbidden returns the packages of deps under prefixes, sorted, and the entries that bring them
// in: "a imports b" for each allowed package a importing a forbidden b.
func Forbidden(deps map[string][]string, prefixes []string) (bad, entries []string) {
	under := func(path string) bool {
		for _, p := range prefixes {
			if strings.HasPrefix(path, p) {
				return true
			}
		}
		return false
	}
	for path, imports := range deps {
		if under(path) {
			bad = append(bad, path)
			continue
		}
		for _, imp := range imports {
			if under(imp) {
				entries = append(entries, path+" imports "+imp)
			}
		}
	}
	sort.Strings(bad)
	sort.Strings(entries)
	return bad, entries
}
