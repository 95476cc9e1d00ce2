package taskruns

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func readObject(t *testing.T, name string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	var obj map[string]any
	require.NoError(t, json.Unmarshal(b, &obj))
	return obj
}

// TestEnded reads TaskRuns and PipelineRuns shaped as Tekton v1.15 writes them (testdata: the
// reasons and messages of pkg/reconciler/taskrun failTaskRun and terminateStepsInPod, the
// spec.status patches of pkg/reconciler/pipelinerun cancel.go and timeout.go): a run Tekton
// ended is told as that, whatever its steps' messages look like.
func TestEnded(t *testing.T) {
	for _, tc := range []struct {
		name, taskRun, pipelineRun string
		want                       End
		cause                      string
	}{
		{"timeouts.tasks while check-image waits for the build", "preflight-tasks-timeout.json", "pipelinerun-tasks-timeout.json",
			End{Kind: EndTimedOut, After: "15s", Task: "preflight", Step: "check-image", Doing: "waited for the build"},
			"the run timed out after 15s while check-image waited for the build: nothing was released"},
		{"timeouts.tasks, the wait's param propagated into the inline spec (no TaskRun param)", "preflight-tasks-timeout-propagated.json", "pipelinerun-tasks-timeout.json",
			End{Kind: EndTimedOut, After: "15s", Task: "preflight", Step: "check-image", Doing: "waited for the build"},
			"the run timed out after 15s while check-image waited for the build: nothing was released"},
		{"timeouts.tasks, PipelineRun not readable: the TaskRun's own timeout", "preflight-tasks-timeout.json", "",
			End{Kind: EndTimedOut, After: "15s", Task: "preflight", Step: "check-image", Doing: "waited for the build"}, "timed out after 15s"},
		{"the TaskRun's own timeout, no build wait", "preflight-taskrun-timeout.json", "",
			End{Kind: EndTimedOut, After: "15s", Task: "preflight", Step: "check-image"}, "the run timed out after 15s while step check-image of preflight ran"},
		{"CancelledRunFinally while check-image waits for the build", "preflight-cancelled.json", "pipelinerun-cancelled-run-finally.json",
			End{Kind: EndCancelled, How: SpecCancelledRunFinally, Task: "preflight", Step: "check-image", Doing: "waited for the build"},
			"the run was cancelled (CancelledRunFinally) while check-image waited for the build"},
		{"StoppedRunFinally after a preflight that passed", "", "pipelinerun-stopped-run-finally.json",
			End{Kind: EndCancelled, How: SpecStoppedRunFinally}, "the run was cancelled (StoppedRunFinally) between tasks"},
		{"a run that ended by itself", "", "pipelinerun-tasks-timeout.json", End{}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var trs []TaskRun
			if tc.taskRun != "" {
				trs = append(trs, Parse(readObject(t, tc.taskRun)))
			}
			var pr *PipelineRun
			if tc.pipelineRun != "" {
				p := ParsePipelineRun(readObject(t, tc.pipelineRun))
				pr = &p
			}
			got := Ended(pr, trs)
			assert.Equal(t, tc.want, got)
			if tc.cause == "" {
				assert.Empty(t, got.Cause())
				return
			}
			assert.Contains(t, got.Cause(), tc.cause)
			assert.NotEmpty(t, got.Fix())
		})
	}
}

// TestExplainEndedNotTruncated: the messages Tekton gives the steps it stopped are not JSON;
// they are not a termination message the kubelet cut, and the run was not blocked.
func TestExplainEndedNotTruncated(t *testing.T) {
	for _, f := range []string{"preflight-tasks-timeout.json", "preflight-cancelled.json", "preflight-taskrun-timeout.json"} {
		t.Run(f, func(t *testing.T) {
			tr := Parse(readObject(t, f))
			got := Explain(&tr)
			assert.NotEmpty(t, got.Ended.Kind)
			assert.NotContains(t, got.Cause, "kubelet")
			assert.NotContains(t, got.Cause, "blocked")
			assert.Contains(t, got.Cause, "check-image")
			assert.False(t, got.Rejected || got.NotPermitted)
		})
	}
}

// TestExplainNotPermitted: a gate the API server refused (exit step.ExitNotPermitted, recorded
// by Tekton for a step that continued) is a missing right, told with the verdict's cause.
func TestExplainNotPermitted(t *testing.T) {
	tr := &TaskRun{Name: "r-preflight", Status: "False", Reason: "Failed",
		Results: map[string]string{"GATE_SUMMARY": "image ✓, konflux ✗", "FAILURE_CAUSE": "konflux: the ServiceAccount may not list releaseplans in namespace t: the API server answered Forbidden"},
		Steps: []Step{
			{Name: InputStep, Reason: "Completed", TerminationReason: "Completed"},
			{Name: "check-image", Reason: "Completed", TerminationReason: "Completed"},
			{Name: "check-konflux", ExitCode: 3, Reason: "Completed", TerminationReason: "Continued"},
			{Name: "gate-verdict", ExitCode: 1, Reason: "Error", TerminationReason: "Error"},
		}}
	got := Explain(tr)
	assert.True(t, got.NotPermitted)
	assert.Contains(t, got.Cause, "may not list releaseplans")
	assert.Contains(t, got.Fix, "tenant-setup.sh")

	tr.Steps[2].ExitCode = 1 // a gate that blocked: the verdict's results say why
	assert.Equal(t, Stop{}, Explain(tr))
}
