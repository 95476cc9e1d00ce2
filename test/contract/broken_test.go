package contract

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/release-to-prod/release-to-prod/pkg/build/tekton"
)

// TestBrokenFixturesFail: each folder of testdata is a small repository (stepactions/, tasks/,
// pipelines/) broken in one way; the check must fail and say why. testdata/valid is the same
// repository unbroken, which passes.
func TestBrokenFixturesFail(t *testing.T) {
	for _, tc := range []struct {
		dir  string
		want string
	}{
		{"valid", ""},
		{"undeclared-task-result", `invalid result reference in pipeline task "b": "NOT_DECLARED" is not a named result returned by pipeline task "a"`},
		{"undeclared-pipeline-result", `invalid pipeline result "R"`},
		{"undeclared-step-result", `refers to result "NOT_DECLARED", which step "s" does not declare`},
		{"unknown-field", `unknown field "stepz"`},
		{"exitcode-variable", `Tekton's variable is $(steps.step-<step-name>.exitCode.path)`},
		{"unknown-stepaction-param", `param "txet" is not declared by StepAction "echo"`},
		{"missing-stepaction", `StepAction "ohce" is not in stepactions/`},
		{"step-result-order", `refers to step "second", which is not an earlier step`},
		{"missing-task-param", `missing values for these params which have no default values: [text]`},
		{"dag-cycle", `cycle`},
		{"optional-workspace", `optional workspace not supported by task`},
	} {
		t.Run(tc.dir, func(t *testing.T) {
			repo, err := tekton.Load(filepath.Join("testdata", tc.dir))
			if err == nil {
				err = repo.Check(context.Background())
			}
			if tc.want == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			var fe *tekton.FileError
			assert.True(t, errors.As(err, &fe), "the error names the file: %v", err)
		})
	}
}

// TestTenantFixturesFail: each folder of testdata/tenant breaks one rule of a Konflux tenant's
// cluster (tekton.CheckTenant); testdata/tenant/valid keeps them all.
func TestTenantFixturesFail(t *testing.T) {
	for _, tc := range []struct {
		dir  string
		want string
	}{
		{"valid", ""},
		{"name-ref", `refs StepAction "check-image" by name: a tenant cannot install StepActions`},
		{"run-as-user", "sets runAsUser 65532: OpenShift's restricted-v2 SCC rejects a fixed user"},
		{"no-command", "has no command"},
		{"results-budget", `RESULTS_BUDGET "4096" is over the 3936 bytes the kubelet keeps`},
	} {
		t.Run(tc.dir, func(t *testing.T) {
			repo, err := tekton.Load(filepath.Join("testdata", "tenant", tc.dir))
			require.NoError(t, err)
			require.NoError(t, repo.Check(context.Background()), "Tekton itself accepts every fixture")
			err = repo.CheckTenant()
			if tc.want == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			var fe *tekton.FileError
			assert.True(t, errors.As(err, &fe), "the error names the file: %v", err)
		})
	}
}
