package outcome

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestDecide(t *testing.T) {
	tests := []struct {
		status, release string
		dry             bool
		want            Outcome
		noteHas         string
	}{
		{"Succeeded", "Succeeded", false, Released, ""},
		{"Succeeded", "", false, Released, ""},
		{"Failed", "Succeeded", false, Released, "after the release failed"},
		{"Completed", "AlreadyReleased", false, NothingToRelease, ""},
		{"Succeeded", "alreadyreleased", false, NothingToRelease, ""},
		{"Failed", "Failed", false, ReleaseFailed, ""},
		{"Failed", "TimedOut", false, ReleaseFailed, ""},
		{"Failed", "", false, BlockedByGate, ""},
		{"Failed", "", true, DryRunWouldBlock, ""},
		{"Failed", "DryRun", false, DryRunWouldBlock, ""},
		{"Succeeded", "DryRun", false, DryRunPassed, ""},
		{"Completed", "", true, DryRunPassed, ""},
		{"", "", true, DryRunPassed, ""},
		{"Completed", "", false, NotReleased, "skipped"},
		{"None", "", false, NotReleased, "did not finish"},
		{"None", "DryRun", true, NotReleased, "did not finish"},
		{"", "", false, NotReleased, "no pipeline or release status"},
		{"Banana", "", false, NotReleased, `unknown pipeline status "Banana"`},
		{"Succeeded", "Weird", false, Released, `unknown release status "Weird"`},
		{" succeeded ", " Succeeded ", false, Released, ""},
		{"Failed", "Blocked", false, BlockedByGate, ""},
		{"Failed", "Blocked", true, DryRunWouldBlock, ""},
		{"Succeeded", "Running", false, NotReleased, "still running in Konflux"},
		// A Release created without waiting is not announced as released.
		{"Succeeded", "Created", false, ReleaseCreated, "outcome not awaited"},
		{"Failed", "Created", false, ReleaseCreated, "outcome not awaited"},
		// Ended by Tekton or by a missing right: never "blocked by a gate", whatever
		// $(tasks.status) says (a cancelled or timed-out TaskRun counts as failed there).
		{"Failed", "Cancelled", false, RunCancelled, ""},
		{"Completed", "cancelled", false, RunCancelled, ""},
		{"Failed", "RunTimedOut", false, RunTimedOutBeforeRelease, ""},
		{"Failed", "RunTimedOut", true, RunTimedOutBeforeRelease, ""},
		{"Failed", "NotPermitted", false, RightMissing, ""},
		// A Release that may be in production is never a success, whatever the pipeline says.
		{"Failed", "Doubtful", false, ReleaseDoubtful, "may be in production"},
		{"Succeeded", "doubtful", false, ReleaseDoubtful, "may be in production"},
		{"Failed", "Doubtful", true, ReleaseDoubtful, "may be in production"},
	}
	for _, tt := range tests {
		t.Run(tt.status+"/"+tt.release, func(t *testing.T) {
			got, note := Decide(tt.status, tt.release, tt.dry)
			assert.Equal(t, tt.want, got, "outcome %s, note %q", got, note)
			if tt.noteHas == "" {
				assert.Empty(t, note)
			} else {
				assert.Contains(t, note, tt.noteHas)
			}
		})
	}
}

func TestOutcomeStrings(t *testing.T) {
	seen := map[string]bool{}
	for o := range Count {
		s := Outcome(o).String()
		assert.NotContains(t, s, "outcome(", "every outcome has a name")
		assert.False(t, seen[s], "names are distinct: %s", s)
		seen[s] = true
	}
	assert.Equal(t, "pending", ReleaseCreated.Variant(), "a created Release is neither a success nor a failure")
	assert.Equal(t, "outcome(99)", Outcome(99).String())
}

func TestNormalize(t *testing.T) {
	for _, s := range Statuses {
		got, ok := Normalize(" " + s + " ")
		assert.True(t, ok)
		assert.Equal(t, s, got)
	}
	got, ok := Normalize("alreadyreleased")
	assert.True(t, ok)
	assert.Equal(t, AlreadyReleased, got)
	_, ok = Normalize("Released")
	assert.False(t, ok)
	assert.True(t, IsReleased(Succeeded))
	assert.True(t, IsReleased(AlreadyReleased))
	assert.False(t, IsReleased(Created), "Created is not released")
	assert.False(t, IsReleased(Running))
}

func TestMayBeInProduction(t *testing.T) {
	for _, st := range Statuses {
		want := st == Succeeded || st == AlreadyReleased || st == Doubtful
		assert.Equal(t, want, MayBeInProduction(st), st)
		assert.Equal(t, st == Succeeded || st == AlreadyReleased, IsReleased(st), "a Doubtful release is not a release: %s", st)
	}
}
