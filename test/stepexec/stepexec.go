// Package stepexec builds a step binary the way its image does (static, -trimpath) and runs it
// as a process with only the environment a test gives, for the end-to-end tests of each step.
package stepexec

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/release-to-prod/release-to-prod/test/tools"
)

// Build compiles steps/<name> into a temporary folder and returns the binary's path.
func Build(t testing.TB, name string) string {
	t.Helper()
	root, err := tools.Root()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), name)
	cmd := exec.Command("go", "build", "-trimpath", "-o", bin, "./steps/"+name)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./steps/%s: %v\n%s", name, err, out)
	}
	return bin
}

// Result is a finished step process.
type Result struct {
	Code   int
	Output string // stdout and stderr, interleaved
}

// limit ends a step process that hangs, so that a broken step fails its test instead of
// holding the whole run until go test's own timeout.
const limit = 5 * time.Minute

// Run runs bin with exactly env (no variable of the test process leaks in) and returns its exit
// code and output; a process that could not start fails the test.
func Run(t testing.TB, bin string, env []string, args ...string) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	r := Result{Output: out.String()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.Code = ee.ExitCode()
	case err != nil:
		t.Fatalf("running %s: %v", bin, err)
	}
	return r
}
