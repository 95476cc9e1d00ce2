package runner_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"

	"github.com/release-to-prod/release-to-prod/pkg/build/tekton"
	"github.com/release-to-prod/release-to-prod/pkg/localrun/runner"
)

// binDir holds the test step binary, built once: bin/teststep, which the image
// quay.io/release-to-prod/teststep:0.1.0 of testdata/repo maps to.
var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "runner-bin-")
	if err != nil {
		panic(err)
	}
	binDir = dir
	build := exec.Command("go", "build", "-o", filepath.Join(dir, "teststep"), "./testdata/teststep")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		panic("building the test step: " + err.Error())
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

func run(t *testing.T, pipeline string, params ...string) (*runner.Outcome, string, error) {
	t.Helper()
	repo, err := tekton.Load("testdata/repo")
	require.NoError(t, err)
	require.NoError(t, repo.Validate(context.Background()))
	var ps v1.Params
	for _, kv := range params {
		k, v, _ := strings.Cut(kv, "=")
		ps = append(ps, v1.Param{Name: k, Value: *v1.NewStructuredValues(v)})
	}
	var out bytes.Buffer
	o, err := runner.Run(context.Background(), runner.Options{
		Repo: repo, Pipeline: repo.Pipelines[pipeline], Params: ps, BinDir: binDir,
		WorkDir: t.TempDir(), Name: "pr", Out: &out, ShowLog: true,
	})
	t.Log(out.String())
	return o, out.String(), err
}

func task(o *runner.Outcome, name string) runner.TaskOutcome {
	for _, t := range o.Tasks {
		if t.Name == name {
			return t
		}
	}
	return runner.TaskOutcome{}
}

func TestDAGResultsWhenFinally(t *testing.T) {
	o, out, err := run(t, "dag", "word=hi")
	require.NoError(t, err)
	assert.True(t, o.Succeeded(), "a skipped task leaves the PipelineRun Completed, which succeeds")
	assert.Equal(t, "Completed", o.Condition.Reason)

	// DAG order: a before b and c; finally last.
	var order []string
	for _, t := range o.Tasks {
		order = append(order, t.Name)
	}
	pos := func(n string) int {
		for i, x := range order {
			if x == n {
				return i
			}
		}
		return -1
	}
	assert.Less(t, pos("a"), pos("b"))
	assert.Less(t, pos("a"), pos("c"))
	assert.Equal(t, "f", order[len(order)-1])

	// Step results passed between steps at run time, then task results between tasks.
	assert.Contains(t, out, "echo: step got hi")
	assert.Contains(t, out, "echo: c got hi-2")
	assert.Equal(t, "hi-2", task(o, "c").Results[0].Value.StringVal)
	require.Len(t, o.Results, 1)
	assert.Equal(t, "C_A", o.Results[0].Name)
	assert.Equal(t, "hi-2", o.Results[0].Value.StringVal)

	// When expression false: skipped, with Tekton's reason.
	assert.Equal(t, "Skipped", task(o, "d").Status)
	assert.Equal(t, string(v1.WhenExpressionsSkip), task(o, "d").Reason)

	// Finally sees $(tasks.status) and $(tasks.<t>.status).
	assert.Contains(t, out, "echo: finally status=Completed b=Succeeded")
}

func TestOnErrorContinueAndFailure(t *testing.T) {
	o, out, err := run(t, "fail")
	require.NoError(t, err)
	assert.False(t, o.Succeeded())
	a := task(o, "a")
	assert.Equal(t, "Failed", a.Status)
	require.Len(t, a.Steps, 3)
	assert.Equal(t, "Continued", a.Steps[0].Status)
	assert.Equal(t, 3, a.Steps[0].ExitCode)
	assert.Equal(t, "Failed", a.Steps[1].Status)
	assert.Equal(t, "Skipped", a.Steps[2].Status, "a step after a failed one does not run")
	// The exit code file of a step that continued, at Tekton's $(steps.step-<name>.exitCode.path).
	assert.Contains(t, out, `read exitCode: "3" <nil>`)
	assert.Equal(t, "Skipped", task(o, "b").Status)
	assert.Equal(t, string(v1.StoppingSkip), task(o, "b").Reason)
	assert.Equal(t, "Succeeded", task(o, "f").Status)
	assert.Contains(t, out, "echo: finally status=Failed")
}

// TestResultsBudget: a termination message over the kubelet's share of the pod (cut on a node,
// its results lost) or over Tekton's 4096 bytes (refused by the entrypoint) fails the TaskRun
// here, and the step's results are gone; a cut message stays in the step's state as on a node.
func TestResultsBudget(t *testing.T) {
	for _, tc := range []struct {
		size   string
		failed bool
	}{
		{"1000", false}, // within each container's 12288 / 7 = 1755 bytes
		{"1700", true},  // the result fits 1755 bytes, not with the entrypoint's StartedAt entry
		{"2500", true},  // within Tekton's 4096 bytes, over the kubelet's share
		{"5000", true},  // over Tekton's 4096 bytes too
	} {
		t.Run(tc.size, func(t *testing.T) {
			o, out, err := run(t, "budget", "size="+tc.size)
			require.NoError(t, err)
			assert.Equal(t, !tc.failed, o.Succeeded())
			one := task(o, "a").Steps[0]
			if !tc.failed {
				assert.NotEmpty(t, one.Results)
				return
			}
			assert.Contains(t, out, string(v1.TaskRunReasonResultLargerThanAllowedLimit))
			assert.True(t, one.Truncated)
			assert.Empty(t, one.Results, "the step's results are lost")
			if tc.size != "5000" {
				assert.Len(t, one.Message, runner.ContainerBudget(6), "the step keeps the cut message, as its container's state does")
			}
		})
	}
}

func TestUnknownImageIsAnError(t *testing.T) {
	o, _, err := run(t, "unknown-image")
	require.Error(t, err)
	assert.Nil(t, o)
	assert.Contains(t, err.Error(), "docker.io/library/busybox:1.36 is not a step image of this project")
}

func TestMissingBinaryIsAnError(t *testing.T) {
	repo, err := tekton.Load("testdata/repo")
	require.NoError(t, err)
	_, err = runner.Run(context.Background(), runner.Options{Repo: repo, Pipeline: repo.Pipelines["dag"], BinDir: t.TempDir(), WorkDir: t.TempDir(), Out: &bytes.Buffer{}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "no binary")
}
