// Package e2e runs the step binaries as processes against the sandbox's real components.
package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/release-to-prod/release-to-prod/pkg/step"
	"github.com/release-to-prod/release-to-prod/pkg/step/knowledge"
	"github.com/release-to-prod/release-to-prod/test/stepexec"
)

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

// stepBinary builds every step once per test process (static, like the images) and returns the
// path of one.
func stepBinary(t *testing.T, name string) string {
	t.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "release-to-prod-steps-")
		if buildErr == nil {
			buildErr = stepexec.BuildAll(binDir)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return filepath.Join(binDir, name)
}

// Run is one finished step process.
type Run struct {
	Code    int
	Output  string // stdout and stderr, interleaved
	Results map[string]string
	Advice  string // the ADVICE file a step that failed with a known cause leaves for the verdict
}

// runStep runs a step binary with exactly env (plus PATH and HOME) and reads its results.
func runStep(t *testing.T, name string, env map[string]string, args ...string) Run {
	t.Helper()
	bin := stepBinary(t, name)
	results := t.TempDir()
	procEnv := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "RESULTS_DIR=" + results}
	for k, v := range env {
		procEnv = append(procEnv, k+"="+v)
	}
	p := stepexec.Run(t, bin, procEnv, args...)
	r := Run{Code: p.Code, Output: p.Output, Results: map[string]string{}}
	entries, err := os.ReadDir(results)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(results, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if e.Name() == step.AdviceFile {
			r.Advice = string(b)
		}
		if sideFile(e.Name()) {
			continue
		}
		r.Results[e.Name()] = string(b)
	}
	t.Logf("%s exited %d:\n%s", name, r.Code, strings.TrimSpace(r.Output))
	return r
}

// sideFile reports whether a file of a step's results folder is one the step leaves beside its
// results for the gate verdict (its advice, its unknown failure): Tekton ignores them.
func sideFile(name string) bool { return name == step.AdviceFile || name == knowledge.UnmatchedFile }
