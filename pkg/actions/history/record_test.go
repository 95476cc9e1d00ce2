package history

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/release-to-prod/release-to-prod/pkg/step"
	"github.com/release-to-prod/release-to-prod/pkg/step/outcome"
)

// TestEndedRuns: a run Tekton ended (the TaskRuns as Tekton v1.15 writes them, read from the
// folder the local runner writes) is recorded as cancelled or timed out, never as blocked by a
// gate nor as a truncation of the preflight's results.
func TestEndedRuns(t *testing.T) {
	for _, tc := range []struct {
		name, taskRun, createStatus string
		want                        outcome.Status
		cause                       string
	}{
		{"tasks timeout in the preflight", "preflight-tasks-timeout.json", "None", outcome.RunTimedOut, "the run timed out after 15s while check-image waited for the build"},
		{"cancelled in the preflight", "preflight-cancelled.json", "None", outcome.Cancelled, "cancelled while check-image waited for the build"},
		{"the TaskRun's own timeout", "preflight-taskrun-timeout.json", "", outcome.RunTimedOut, "timed out after 15s while step check-image of preflight ran"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			b, err := os.ReadFile(filepath.Join("..", "..", "clients", "taskruns", "testdata", tc.taskRun))
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(filepath.Join(dir, "preflight.json"), b, 0o644))
			var f runFacts
			var out bytes.Buffer
			code := step.Run(context.Background(), "record-history", []string{"--results-dir=" + t.TempDir(), "--commit-sha=0123456789abcdef0123456789abcdef01234567"}, &out, &RecordConfig{},
				func(ctx context.Context, s *step.Step, cfg *RecordConfig) error {
					f = readRun(ctx, s, nil, &RecordConfig{TaskRunsDir: dir})
					return nil
				})
			require.Equal(t, 0, code, out.String())
			require.True(t, f.endedBeforeRelease(tc.createStatus))
			assert.Equal(t, tc.want, f.endStatus())
			assert.Contains(t, f.end.Cause(), tc.cause)
			assert.NotContains(t, f.cause, "kubelet", "Tekton's messages for the steps it stopped are no cut results")
			assert.False(t, f.stop.Rejected)
		})
	}
}

// TestEndedBeforeRelease: a stop between tasks counts only when it kept create-release from
// running a release the preflight allowed.
func TestEndedBeforeRelease(t *testing.T) {
	stopped := runFacts{preflightPassed: true}
	stopped.end.Kind, stopped.end.How = "cancelled", "StoppedRunFinally"
	for _, tc := range []struct {
		name   string
		f      runFacts
		create string
		want   bool
	}{
		{"stopped before create-release", stopped, "None", true},
		{"stopped after create-release ran: the Release says", stopped, "Succeeded", false},
		{"stopped, but the commit was released already", func() runFacts { f := stopped; f.alreadyReleased = true; return f }(), "None", false},
		{"stopped, but a gate blocked", func() runFacts { f := stopped; f.preflightPassed = false; return f }(), "None", false},
		{"not ended", runFacts{preflightPassed: true}, "None", false},
	} {
		t.Run(tc.name, func(t *testing.T) { assert.Equal(t, tc.want, tc.f.endedBeforeRelease(tc.create)) })
	}
}
