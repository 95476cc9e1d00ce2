package step

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/release-to-prod/release-to-prod/pkg/step/failure"
)

type testConfig struct {
	Common
	CommitSHA string `env:"COMMIT_SHA, required" desc:"full commit SHA"`
	Component string `env:"COMPONENT, default=backend" desc:"component name"`
}

func TestRunConfig(t *testing.T) {
	tests := []struct {
		name     string
		env      map[string]string
		args     []string
		wantCode int
		wantSHA  string
		wantComp string
		outHas   []string
	}{
		{name: "env", env: map[string]string{"COMMIT_SHA": "abc"}, wantSHA: "abc", wantComp: "backend"},
		{name: "flag wins over env", env: map[string]string{"COMMIT_SHA": "abc"}, args: []string{"--commit-sha=def", "--component", "x"}, wantSHA: "def", wantComp: "x"},
		{name: "required missing", wantCode: ExitBadArgs, outHas: []string{"configuration", "COMMIT_SHA", "likely cause", "--help"}},
		{name: "unknown flag", env: map[string]string{"COMMIT_SHA": "abc"}, args: []string{"--nope=1"}, wantCode: ExitBadArgs, outHas: []string{"nope"}},
		{name: "positional", env: map[string]string{"COMMIT_SHA": "abc"}, args: []string{"stray"}, wantCode: ExitBadArgs, outHas: []string{`unexpected argument "stray"`}},
		{name: "help", args: []string{"--help"}, outHas: []string{"--commit-sha", "$COMMIT_SHA", "(required)", `(default "backend")`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("COMMIT_SHA", "")
			os.Unsetenv("COMMIT_SHA")
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			var out bytes.Buffer
			cfg := &testConfig{}
			var ran bool
			code := Run(context.Background(), "test-step", append(tt.args, "--results-dir="+t.TempDir()), &out, cfg, func(ctx context.Context, s *Step, c *testConfig) error {
				ran = true
				return nil
			})
			assert.Equal(t, tt.wantCode, code, out.String())
			if tt.wantSHA != "" {
				assert.True(t, ran)
				assert.Equal(t, tt.wantSHA, cfg.CommitSHA)
				assert.Equal(t, tt.wantComp, cfg.Component)
			}
			for _, s := range tt.outHas {
				assert.Contains(t, out.String(), s)
			}
		})
	}
}

func TestRunFailureExplained(t *testing.T) {
	tests := []struct {
		name     string
		err      error
		format   string
		wantCode int
		outHas   []string
	}{
		{name: "known text", err: failure.New(failure.ImageNotFound, map[string]string{"image": "quay.io/a/b:c"}, "tag c not found"),
			wantCode: ExitFailed, outHas: []string{"✗ test-step failed: tag c not found", "likely cause: the image quay.io/a/b:c does not exist", "fix: check the build PipelineRun"}},
		{name: "invalid input exits 2", err: failure.New(failure.InvalidInput, nil, "bad sha"), wantCode: ExitBadArgs, outHas: []string{"bad sha"}},
		{name: "a right refused exits 3", err: failure.Wrap(failure.NotPermitted, map[string]string{"verb": "list", "resource": "releaseplans", "namespace": "t"}, errors.New("forbidden")),
			wantCode: ExitNotPermitted, outHas: []string{"the ServiceAccount may not list releaseplans in namespace t", "config/tenant-setup.sh"}},
		{name: "a Release that may be in production exits 4", err: fmt.Errorf("release: %w", failure.New(failure.ReleaseMayBeInProduction, map[string]string{"release": "r1"}, "Release r1 may be in production")),
			wantCode: ExitMayBeInProduction, outHas: []string{"Release r1 may be in production", "do not release this commit again"}},
		{name: "unknown error still printed", err: errors.New("boom"), wantCode: ExitFailed, outHas: []string{"✗ test-step failed: boom"}},
		{name: "json", format: "json", err: fmt.Errorf("checking: %w", &failure.HTTPStatusError{Service: "Quay", Method: "GET", URL: "https://quay.io/x", Code: 401}),
			wantCode: ExitFailed, outHas: []string{`"level":"error"`, `"id":"unauthorized"`, `Quay rejected the credentials`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("COMMIT_SHA", "abc")
			var out bytes.Buffer
			args := []string{"--results-dir=" + t.TempDir()}
			if tt.format != "" {
				args = append(args, "--log-format="+tt.format)
			}
			code := Run(context.Background(), "test-step", args, &out, &testConfig{}, func(ctx context.Context, s *Step, c *testConfig) error {
				s.OK("did a thing")
				return tt.err
			})
			assert.Equal(t, tt.wantCode, code)
			for _, s := range tt.outHas {
				assert.Contains(t, out.String(), s)
			}
			if tt.format == "json" {
				for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
					var m map[string]any
					require.NoError(t, json.Unmarshal([]byte(line), &m), line)
				}
			}
		})
	}
}

func TestAdviceLeftForTheVerdict(t *testing.T) {
	t.Setenv("COMMIT_SHA", "abc")
	dir := filepath.Join(t.TempDir(), "results")
	var out bytes.Buffer
	code := Run(context.Background(), "gate", []string{"--results-dir=" + dir}, &out, &testConfig{}, func(ctx context.Context, s *Step, c *testConfig) error {
		return failure.New(failure.ImageNotFound, map[string]string{"image": "quay.io/x/y:" + strings.Repeat("z", 600)}, "no image")
	})
	require.Equal(t, ExitFailed, code)
	b, err := os.ReadFile(filepath.Join(dir, AdviceFile))
	require.NoError(t, err)
	lines := strings.Split(string(b), "\n")
	require.Len(t, lines, 2)
	assert.True(t, strings.HasPrefix(lines[0], "the image quay.io/x/y:zzz"), lines[0])
	assert.LessOrEqual(t, len(lines[0]), maxAdvice+len("…"))
	assert.Contains(t, lines[1], "check the build PipelineRun")

	// An error nobody classified leaves no advice.
	dir2 := filepath.Join(t.TempDir(), "results")
	Run(context.Background(), "gate", []string{"--results-dir=" + dir2}, &out, &testConfig{}, func(ctx context.Context, s *Step, c *testConfig) error {
		return errors.New("boom")
	})
	_, err = os.Stat(filepath.Join(dir2, AdviceFile))
	assert.True(t, os.IsNotExist(err))
}

func TestRunHonoursCancellation(t *testing.T) {
	t.Setenv("COMMIT_SHA", "abc")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out bytes.Buffer
	code := Run(ctx, "test-step", []string{"--results-dir=" + t.TempDir()}, &out, &testConfig{}, func(ctx context.Context, s *Step, c *testConfig) error {
		<-ctx.Done()
		return fmt.Errorf("waiting: %w", ctx.Err())
	})
	assert.Equal(t, ExitFailed, code)
	assert.Contains(t, out.String(), "context canceled")
}

func TestResults(t *testing.T) {
	dir := t.TempDir()
	r := NewResults(filepath.Join(dir, "results"))
	require.NoError(t, r.Write("PINNED_DIGEST", "sha256:abc"))
	b, err := os.ReadFile(filepath.Join(dir, "results", "PINNED_DIGEST"))
	require.NoError(t, err)
	assert.Equal(t, "sha256:abc", string(b), "no trailing newline")

	err = r.Write("BIG", strings.Repeat("x", TerminationBudget))
	require.Error(t, err)
	a, ok := failure.Explain(err)
	require.True(t, ok)
	assert.Equal(t, failure.ResultsTooLarge, a.ID)
	_, statErr := os.Stat(filepath.Join(dir, "results", "BIG"))
	assert.True(t, os.IsNotExist(statErr), "an over-budget result is not written")

	entries, err := os.ReadDir(filepath.Join(dir, "results"))
	require.NoError(t, err)
	assert.Len(t, entries, 1, "no temporary files left behind")

	// Overwriting a result counts once.
	require.NoError(t, r.Write("PINNED_DIGEST", strings.Repeat("y", 3000)))
	require.NoError(t, r.Write("PINNED_DIGEST", strings.Repeat("y", 3000)))
}

func TestEnvFields(t *testing.T) {
	fields, err := EnvFields(&testConfig{})
	require.NoError(t, err)
	var names []string
	for _, f := range fields {
		names = append(names, f.Env)
	}
	assert.Equal(t, []string{"COMMIT_SHA", "COMPONENT", "KNOWLEDGE_FILE", "LOG_FORMAT", "RESULTS_BUDGET", "RESULTS_DIR"}, names)
	_, err = EnvFields(testConfig{})
	assert.Error(t, err)
}
