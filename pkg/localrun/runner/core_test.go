package runner

import (
	"errors"
	"io/fs"
	"testing"

	"github.com/stretchr/testify/assert"
	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"

	"github.com/release-to-prod/release-to-prod/pkg/build/tekton"
)

func TestTaskRunEnd(t *testing.T) {
	for _, tc := range []struct {
		name    string
		steps   []StepOutcome
		reason  v1.TaskRunReason
		message string
	}{
		{name: "all succeeded", steps: []StepOutcome{{Name: "a", Status: "Succeeded"}, {Name: "b", Status: "Continued", ExitCode: 3}}},
		{name: "none", steps: nil},
		{
			name:    "a step failed, the next skipped",
			steps:   []StepOutcome{{Name: "a", Status: "Succeeded"}, {Name: "b", Status: "Failed", ExitCode: 2}, {Name: "c", Status: "Skipped", ExitCode: 1}},
			reason:  v1.TaskRunReasonStepFailed,
			message: `"step-b" exited with code 2: Error`,
		},
		{
			name:    "OOM killed",
			steps:   []StepOutcome{{Name: "a", Status: "Failed", ExitCode: 137, Killed: true}, {Name: "b", Status: "Running"}},
			reason:  v1.TaskRunReasonStepOOM,
			message: `"step-a" exited with code 137: OOMKilled`,
		},
		{
			name:    "a truncated message wins over a later failure",
			steps:   []StepOutcome{{Name: "a", Status: "Succeeded", Truncated: true}, {Name: "b", Status: "Failed", ExitCode: 1}, {Name: "c", Status: "Skipped"}},
			reason:  v1.TaskRunReasonResultLargerThanAllowedLimit,
			message: "the termination message of step a is over the 2048 bytes the kubelet keeps for each of the pod's 4 containers",
		},
		{
			name:    "over what the entrypoint writes: failed and truncated",
			steps:   []StepOutcome{{Name: "a", Status: "Failed", ExitCode: 1, Truncated: true}},
			reason:  v1.TaskRunReasonResultLargerThanAllowedLimit,
			message: "the termination message of step a is over the 4096 bytes",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			budget := 2048
			if len(tc.steps) == 1 {
				budget = 4096
			}
			reason, message, failed := taskRunEnd(tc.steps, budget)
			assert.Equal(t, tc.reason != "", failed)
			assert.Equal(t, tc.reason, reason)
			if tc.message == "" {
				assert.Empty(t, message)
			} else {
				assert.Contains(t, message, tc.message)
			}
		})
	}
}

func TestTaskResults(t *testing.T) {
	files := map[string]string{"FILE": "from a file", "ARR": `["x","y"]`, "BAD": `["x",`}
	read := func(name string) ([]byte, error) {
		if v, ok := files[name]; ok {
			return []byte(v), nil
		}
		return nil, fs.ErrNotExist
	}
	stepResults := map[string]string{"steps.a.results.X": "1"}
	ref := func(s string) *v1.ParamValue { return v1.NewStructuredValues(s) }
	for _, tc := range []struct {
		name     string
		declared []v1.TaskResult
		want     map[string]string // name → string value, or the JSON of an array
	}{
		{name: "from a step result", declared: []v1.TaskResult{{Name: "R", Value: ref("x=$(steps.a.results.X)")}}, want: map[string]string{"R": "x=1"}},
		{name: "a missing step result leaves it absent", declared: []v1.TaskResult{{Name: "R", Value: ref("$(steps.b.results.Y)")}}, want: map[string]string{}},
		{name: "from a file", declared: []v1.TaskResult{{Name: "FILE"}}, want: map[string]string{"FILE": "from a file"}},
		{name: "no file leaves it absent", declared: []v1.TaskResult{{Name: "NONE"}}, want: map[string]string{}},
		{name: "an array from a file", declared: []v1.TaskResult{{Name: "ARR", Type: v1.ResultsTypeArray}}, want: map[string]string{"ARR": `["x","y"]`}},
		// Tekton's ResultValue keeps what does not decode as its text: no error.
		{name: "an array that is not JSON is kept as text", declared: []v1.TaskResult{{Name: "BAD", Type: v1.ResultsTypeArray}}, want: map[string]string{"BAD": `["x",`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := taskResults(tc.declared, stepResults, read)
			assert.NoError(t, err)
			values := map[string]string{}
			for _, r := range got {
				if r.Value.Type == v1.ParamTypeString {
					values[r.Name] = r.Value.StringVal
					continue
				}
				b, err := r.Value.MarshalJSON()
				assert.NoError(t, err)
				values[r.Name] = string(b)
			}
			assert.Equal(t, tc.want, values)
		})
	}
}

func TestImagePullFailure(t *testing.T) {
	steps := []v1.Step{{Name: "a", Image: "ok"}, {Name: "b", Image: "gone"}}
	for _, tc := range []struct {
		name    string
		refused string
		message string
	}{
		{name: "every image pulls"},
		{name: "one image does not", refused: "gone", message: `the step "b" in TaskRun "tr" failed to pull the image "". The pod errored with the message: "Back-off pulling image "gone": ErrImagePull: no such image."`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pullable := func(image string) error {
				if image == tc.refused {
					return errors.New("no such image")
				}
				return nil
			}
			outcomes, message, failed := imagePullFailure("tr", steps, pullable)
			assert.Equal(t, tc.message != "", failed)
			assert.Equal(t, tc.message, message)
			if failed {
				assert.Equal(t, []StepOutcome{{Name: "a", Status: "ImagePullFailed", ExitCode: 1}, {Name: "b", Status: "ImagePullFailed", ExitCode: 1}}, outcomes)
			} else {
				assert.Empty(t, outcomes)
			}
		})
	}
}

func TestNotRun(t *testing.T) {
	for _, tc := range []struct {
		name   string
		failed StepOutcome
		want   StepOutcome
	}{
		{name: "after a failure the entrypoint skips", failed: StepOutcome{Name: "a", Status: "Failed", ExitCode: 1}, want: StepOutcome{Name: "b", Status: "Skipped", ExitCode: 1}},
		{name: "after an OOM kill the step waits", failed: StepOutcome{Name: "a", Status: "Failed", ExitCode: 137, Killed: true}, want: StepOutcome{Name: "b", Status: "Running"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, notRun("b", tc.failed))
		})
	}
}

func TestLocalWorkspace(t *testing.T) {
	ws := map[string]Workspace{
		"src":     {Kind: "dir", Path: "/abs/src"},
		"creds":   {Kind: "secret", Path: "/abs/creds"},
		"scratch": {Kind: "emptyDir"},
	}
	for _, tc := range []struct {
		name, ws, path string
		empty, ok      bool
	}{
		{name: "a bound folder", ws: "src", path: "/abs/src", ok: true},
		{name: "a secret", ws: "creds", path: "/abs/creds", ok: true},
		{name: "an emptyDir of the TaskRun's own", ws: "scratch", path: "/work/tr-1/emptydir/scratch", empty: true, ok: true},
		{name: "not bound", ws: "other"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path, empty, ok := localWorkspace(ws, "/work/tr-1", tc.ws)
			assert.Equal(t, tc.path, path)
			assert.Equal(t, tc.empty, empty)
			assert.Equal(t, tc.ok, ok)
		})
	}
}

func TestSkipLine(t *testing.T) {
	for _, tc := range []struct {
		name string
		s    tekton.Skipped
		want string
	}{
		{name: "when expressions", s: tekton.Skipped{Name: "release", Reason: string(v1.WhenExpressionsSkip), When: v1.WhenExpressions{{Input: "no", Operator: "in", Values: []string{"yes"}}}},
			want: `- release skipped: When Expressions evaluated to false (when "no" in [yes])`},
		{name: "another reason", s: tekton.Skipped{Name: "report", Reason: string(v1.ParentTasksSkip)}, want: "- report skipped: Parent Tasks were skipped"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, skipLine(tc.s))
		})
	}
}
