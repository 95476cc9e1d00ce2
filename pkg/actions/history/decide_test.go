package history

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/release-to-prod/release-to-prod/pkg/clients/taskruns"
	"github.com/release-to-prod/release-to-prod/pkg/step"
	"github.com/release-to-prod/release-to-prod/pkg/step/failure"
	"github.com/release-to-prod/release-to-prod/pkg/step/outcome"
)

// TestDecide: the status record-history records, from STATUS, the run's TaskRuns or the
// Releases, and the cause it gives; resolve is called only when nothing else decides.
func TestDecide(t *testing.T) {
	resolved := func(o RunOutcome, err error) func() (RunOutcome, error) {
		return func() (RunOutcome, error) { return o, err }
	}
	notCalled := func() (RunOutcome, error) { panic("resolve called") }
	for _, tc := range []struct {
		name      string
		given     decision
		run       runFacts
		inputErr  error
		resolve   func() (RunOutcome, error)
		want      decision
		wantCause string
		wantErr   bool
	}{
		{name: "STATUS given", given: decision{status: outcome.Succeeded, sha: testSHA}, resolve: notCalled,
			want: decision{status: outcome.Succeeded, sha: testSHA}},
		{name: "invalid input: recorded as given", given: decision{}, inputErr: errors.New("COMMIT_SHA is not 40 hex"), resolve: notCalled,
			want: decision{status: outcome.Rejected, sha: "abc"}, wantCause: "invalid input, nothing was attempted: COMMIT_SHA is not 40 hex"},
		{name: "rejected by check-input, its cause kept", run: runFacts{stop: taskruns.Stop{Rejected: true}, cause: "commit_sha: too short"}, resolve: notCalled,
			want: decision{status: outcome.Rejected, sha: "abc"}, wantCause: "commit_sha: too short"},
		{name: "rejected without a cause does not panic", run: runFacts{stop: taskruns.Stop{Rejected: true}}, resolve: notCalled,
			want: decision{status: outcome.Rejected, sha: "abc"}},
		{name: "a right missing", given: decision{sha: testSHA}, run: runFacts{stop: taskruns.Stop{NotPermitted: true}, cause: "may not list taskruns"}, resolve: notCalled,
			want: decision{status: outcome.NotPermitted, sha: testSHA}, wantCause: "may not list taskruns"},
		{name: "from the Releases, filling what was not given", given: decision{sha: testSHA, release: "given"},
			resolve: resolved(RunOutcome{Status: outcome.Succeeded, Release: "found", Snapshot: "snap"}, nil),
			want:    decision{status: outcome.Succeeded, sha: testSHA, release: "given", snapshot: "snap"}},
		{name: "Releases unreadable: no status, the error", given: decision{sha: testSHA},
			resolve: resolved(RunOutcome{}, errors.New("connection refused")),
			want:    decision{sha: testSHA}, wantCause: "connection refused", wantErr: true},
		{name: "Releases refused: NotPermitted, the error", given: decision{sha: testSHA},
			resolve: resolved(RunOutcome{}, failure.New(failure.NotPermitted, map[string]string{"verb": "list", "resource": "releases", "namespace": "ns"}, "forbidden")),
			want:    decision{status: outcome.NotPermitted, sha: testSHA}, wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, run := tc.given, tc.run
			err := d.decide(&RecordConfig{CreateStatus: "None", Subject: step.Subject{Commit: step.Commit{CommitSHA: "abc"}}}, &run, tc.inputErr, tc.resolve)
			assert.Equal(t, tc.wantErr, err != nil, "error: %v", err)
			assert.Equal(t, tc.want, d)
			if tc.wantCause != "" {
				assert.Equal(t, tc.wantCause, run.cause)
			}
		})
	}
}
