// Package stepexec builds a step binary the way its image does (static, -trimpath) and runs it
// as a process with only the environment a test gives, for the end-to-end tests of each step.
package stepexec

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/release-to-prod/release-to-prod/test/tools"
)

// Build compiles steps/<name> into a temporary folder of t and returns the binary's path.
func Build(t testing.TB, name string) string {
	t.Helper()
	dir := t.TempDir()
	if err := build(filepath.Join(dir, name), "./steps/"+name); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, name)
}

// BuildLauncher compiles the local runner's peak-rss launcher (cmd/peak-rss) into a temporary
// folder of t and returns its path: a step started through it reports its own peak RSS.
func BuildLauncher(t testing.TB) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "peak-rss")
	if err := build(p, "./cmd/peak-rss"); err != nil {
		t.Fatal(err)
	}
	return p
}

// BuildAll compiles every step into dir, each binary named as its step: for tests that run
// several steps, such as a whole pipeline; with them the local runner's peak-rss launcher, so
// that a run measures each step's own peak RSS.
func BuildAll(dir string) error {
	return build(dir+string(filepath.Separator), "./steps/...", "./cmd/peak-rss")
}

// BuildCommand compiles the command package pkg (./cmd/…) to out, as the steps are built.
func BuildCommand(out, pkg string) error {
	return build(out, pkg)
}

// build is the one way the tests build steps: static and -trimpath, as the images do. out is a
// file, or a folder when it ends in a separator.
func build(out string, pkgs ...string) error {
	root, err := tools.Root()
	if err != nil {
		return err
	}
	cmd := exec.Command("go", append([]string{"build", "-trimpath", "-o", out}, pkgs...)...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %w\n%s", strings.Join(pkgs, " "), err, b)
	}
	return nil
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
