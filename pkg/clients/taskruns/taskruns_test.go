package taskruns

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestExplain(t *testing.T) {
	failed := func(steps ...Step) *TaskRun {
		return &TaskRun{Name: "run-preflight", Status: "False", Reason: "Failed", Message: "step failed", Results: map[string]string{}, Steps: steps}
	}
	for _, tc := range []struct {
		name     string
		tr       *TaskRun
		rejected bool
		cause    string
	}{
		{"no TaskRun", nil, false, "never created"},
		{"rejected input", failed(Step{Name: InputStep, ExitCode: 2, Reason: "Error", Results: map[string]string{InputResult: "commit_sha (COMMIT_SHA): \"x\" is not a hexadecimal commit SHA"}}),
			true, "invalid input, nothing was attempted: commit_sha"},
		{"OOM kill", failed(Step{Name: InputStep, Reason: "Completed"}, Step{Name: "check-konflux", ExitCode: 137, Reason: "OOMKilled"}),
			false, "step check-konflux was killed for exceeding its memory limit"},
		{"image pull", &TaskRun{Status: "False", Reason: "TaskRunImagePullFailed", Message: `the step "check-alerts" in TaskRun "x" failed to pull the image "quay.io/a:b"`,
			Steps: []Step{{Name: "check-alerts", ExitCode: 1, Reason: "TaskRunImagePullFailed", Message: "Step check-alerts terminated as pod x is terminated"}}},
			false, `a step image cannot be pulled (TaskRunImagePullFailed): the step "check-alerts"`},
		{"timeout", &TaskRun{Status: "False", Reason: "TaskRunTimeout", Message: "TaskRun x failed to finish within 1h0m0s"}, false, "the run timed out"},
		{"crash before the verdict", failed(Step{Name: InputStep, Reason: "Completed"}, Step{Name: "gate-verdict", ExitCode: 2, Reason: "Error"}),
			false, "step gate-verdict stopped with exit code 2"},
		// As a node reports it: the kubelet calls the steps the entrypoint skipped Error (exit
		// 1), Tekton calls them Skipped; gates that failed under onError: continue exited 0
		// for the kubelet and are Continued for Tekton. The step that stopped the pod is the
		// crashed one, not the last.
		{"crash, as a node reports the steps after it", failed(
			Step{Name: InputStep, Reason: "Completed", TerminationReason: "Completed"},
			Step{Name: "check-image", ExitCode: 1, Reason: "Completed", TerminationReason: "Continued"},
			Step{Name: "check-alerts", ExitCode: 2, Reason: "Error", TerminationReason: "Error"},
			Step{Name: "check-vulnerabilities", ExitCode: 1, Reason: "Error", TerminationReason: "Skipped"},
			Step{Name: "gate-verdict", ExitCode: 1, Reason: "Error", TerminationReason: "Skipped"}),
			false, "step check-alerts stopped with exit code 2"},
		// As a node reports it: the kubelet cut the verdict's termination message, Tekton
		// dropped its results and kept the cut text, and the TaskRun succeeded.
		{"results cut by the kubelet", &TaskRun{Status: "True", Reason: "Succeeded", Results: map[string]string{}, Steps: []Step{
			{Name: InputStep, Reason: "Completed", Message: `[{"key":"INVALID_PARAMS","value":"","type":1}]`},
			{Name: "gate-verdict", Reason: "Completed", Message: `[{"key":"GATE_SUMMARY","value":"image ✗, konfl`}}},
			false, "the preflight's results were over what the kubelet keeps of a step's termination message (step gate-verdict"},
		{"the verdict ran", &TaskRun{Status: "False", Results: map[string]string{"GATE_SUMMARY": "image ✗"}}, false, ""},
		{"succeeded", &TaskRun{Status: "True"}, false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Explain(tc.tr)
			assert.Equal(t, tc.rejected, got.Rejected)
			if tc.cause == "" {
				assert.Empty(t, got.Cause)
				return
			}
			assert.Contains(t, got.Cause, tc.cause)
			assert.NotEmpty(t, got.Fix)
		})
	}
}

func TestParse(t *testing.T) {
	tr := Parse(map[string]any{
		"metadata": map[string]any{"name": "r-preflight", "labels": map[string]any{PipelineTaskLabel: "preflight"}},
		"status": map[string]any{
			"conditions": []any{map[string]any{"type": "Succeeded", "status": "False", "reason": "Failed", "message": "m"}},
			"results":    []any{map[string]any{"name": "GATE_SUMMARY", "value": "image ✓"}, map[string]any{"name": "A", "value": []any{"x"}}},
			"steps": []any{
				map[string]any{"name": "check-image", "terminated": map[string]any{"exitCode": float64(137), "reason": "OOMKilled"}, "terminationReason": "OOMKilled"},
				map[string]any{"name": "notify", "waiting": map[string]any{"reason": "ImagePullBackOff", "message": "back-off"}},
			},
		},
	})
	assert.Equal(t, "preflight", tr.PipelineTask)
	assert.Equal(t, "False", tr.Status)
	assert.Equal(t, "image ✓", tr.Results["GATE_SUMMARY"])
	assert.Equal(t, `["x"]`, tr.Results["A"])
	assert.Equal(t, Step{Name: "check-image", ExitCode: 137, Reason: "OOMKilled", TerminationReason: "OOMKilled", Results: map[string]string{}}, tr.Steps[0])
	assert.True(t, tr.Steps[1].Waiting)
	assert.Equal(t, Stop{}, Explain(&TaskRun{}), "a TaskRun with no condition yet says nothing")
	assert.Empty(t, Parse(map[string]any{"status": "garbage"}).Steps, "no panic on odd input")
}

func TestStarted(t *testing.T) {
	at := func(s string) TaskRun {
		return Parse(map[string]any{"status": map[string]any{"startTime": s}})
	}
	for _, tc := range []struct {
		name string
		trs  []TaskRun
		want string
	}{
		{"no TaskRun", nil, ""},
		{"the earliest, whatever the order", []TaskRun{at("2026-11-28T06:10:05Z"), at("2026-11-28T06:10:01Z"), at("2026-11-28T06:11:00Z")}, "2026-11-28T06:10:01Z"},
		{"one not started yet", []TaskRun{at(""), at("2026-11-28T06:10:05Z")}, "2026-11-28T06:10:05Z"},
		{"garbage is ignored", []TaskRun{at("yesterday"), at("2026-11-28T06:10:05Z")}, "2026-11-28T06:10:05Z"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Started(tc.trs)
			if tc.want == "" {
				assert.True(t, got.IsZero(), "got %v", got)
				return
			}
			assert.Equal(t, tc.want, got.UTC().Format("2006-01-02T15:04:05Z07:00"))
		})
	}
}

// TestReadDirKeepsRunsApart: two runs that share a work folder leave their TaskRuns side by
// side; each run's report reads its own only.
func TestReadDirKeepsRunsApart(t *testing.T) {
	dir := t.TempDir()
	write := func(name, pipelineRun, status string) {
		b, err := json.Marshal(map[string]any{
			"metadata": map[string]any{"name": name, "labels": map[string]any{PipelineRunLabel: pipelineRun, PipelineTaskLabel: "preflight"}},
			"status":   map[string]any{"conditions": []any{map[string]any{"type": "Succeeded", "status": status}}},
		})
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, name+".json"), b, 0o644))
	}
	write("run-a-preflight", "run-a", "False")
	write("run-b-preflight", "run-b", "True")
	for run, want := range map[string]string{"run-a": "False", "run-b": "True"} {
		trs, err := ReadDir(dir, run)
		require.NoError(t, err)
		require.Len(t, trs, 1, run)
		assert.Equal(t, run, trs[0].PipelineRun)
		assert.Equal(t, want, Find(trs, "preflight").Status, "the preflight of %s, not the other run's", run)
	}
	all, err := ReadDir(dir, "")
	require.NoError(t, err)
	assert.Len(t, all, 2)
}
