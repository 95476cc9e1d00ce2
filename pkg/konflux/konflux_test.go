package konflux

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/release-to-prod/release-to-prod/pkg/failure"
)

const testSHA = "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678"

func snap(name string, age time.Duration, event, tests string, extra ...Condition) Snapshot {
	s := Snapshot{Name: name, Created: time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC).Add(-age), EventType: event,
		Labels: map[string]string{LabelEventType: event}, Images: map[string]string{"comp": "reg/x@sha256:" + strings.Repeat("a", 64)}}
	if tests != "" {
		s.Conditions = append(s.Conditions, Condition{Type: ConditionTestSucceeded, Status: tests, Message: "tests " + tests})
	}
	s.Conditions = append(s.Conditions, extra...)
	return s
}

func idOf(err error) failure.ID {
	a, _ := failure.Explain(err)
	return a.ID
}

func TestFindSnapshot(t *testing.T) {
	invalid := Condition{Type: ConditionIntegrationStatus, Status: "False", Reason: "Invalid", Message: "image not by digest"}
	tests := []struct {
		name    string
		snaps   []Snapshot
		want    string
		wantErr failure.ID
		msgHas  string
	}{
		{name: "newest passing push wins over a newer failing one and a PR one",
			snaps: []Snapshot{snap("old-pass", 3*time.Hour, "push", "True"), snap("mid-pass", 2*time.Hour, "push", "True"),
				snap("new-fail", time.Hour, "push", "False"), snap("pr", 0, "pull_request", "True")},
			want: "mid-pass"},
		{name: "GitLab Push counts", snaps: []Snapshot{snap("gl", 0, "Push", "True")}, want: "gl"},
		{name: "invalid is skipped", snaps: []Snapshot{snap("inv", 0, "push", "True", invalid), snap("ok", time.Hour, "push", "True")}, want: "ok"},
		{name: "legacy test condition", snaps: []Snapshot{{Name: "legacy", EventType: "push",
			Conditions: []Condition{{Type: "HACBSStudioTestSucceeded", Status: "True"}}}}, want: "legacy"},
		{name: "none at all", snaps: nil, wantErr: failure.SnapshotMissing, msgHas: "the build is not done"},
		{name: "only PR snapshots", snaps: []Snapshot{snap("pr", 0, "pull_request", "True")}, wantErr: failure.SnapshotMissing, msgHas: "pull-request"},
		{name: "group snapshot is not releasable", snaps: []Snapshot{func() Snapshot {
			s := snap("grp", 0, "push", "True")
			s.Labels[labelSnapshotType] = "group"
			return s
		}()}, wantErr: failure.SnapshotMissing},
		{name: "newest push still running", snaps: []Snapshot{snap("run", 0, "push", ""), snap("fail", time.Hour, "push", "False")},
			wantErr: failure.SnapshotTestsRunning, msgHas: "run"},
		{name: "unknown status is running", snaps: []Snapshot{snap("run", 0, "push", "Unknown")}, wantErr: failure.SnapshotTestsRunning},
		{name: "newest push failed", snaps: []Snapshot{snap("fail", 0, "push", "False"), snap("run", time.Hour, "push", "")},
			wantErr: failure.SnapshotTestsFailed, msgHas: "tests False"},
		{name: "only invalid", snaps: []Snapshot{snap("inv", 0, "push", "True", invalid)}, wantErr: failure.SnapshotInvalid, msgHas: "image not by digest"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _, err := FindSnapshot(tt.snaps, "comp", testSHA, "ns")
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Equal(t, tt.wantErr, idOf(err))
				assert.Contains(t, err.Error(), tt.msgHas)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got.Name)
		})
	}
}

func TestSnapshotDigest(t *testing.T) {
	d := "sha256:" + strings.Repeat("b", 64)
	s := Snapshot{Name: "s", Images: map[string]string{"a": "reg:5000/x/y@" + d, "b": "reg/x:tag", "c": "reg/x@md5:1"}}
	img, got, err := s.Digest("a")
	require.NoError(t, err)
	assert.Equal(t, d, got)
	assert.Equal(t, "reg:5000/x/y@"+d, img)
	for _, c := range []string{"b", "c", "missing"} {
		_, _, err := s.Digest(c)
		assert.Error(t, err, c)
	}
}

var nameRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

func TestReleaseName(t *testing.T) {
	tests := []struct{ component, sha, plan string }{
		{"automation-analytics-backend-main", testSHA, "aap-aa-main-prod"},
		{strings.Repeat("very-long-component-name-", 5), testSHA, "p"},
		{"UPPER_case.and.dots", testSHA, "p"},
		{"---", "", ""},
		{"a", "zz", "p"},
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		n := ReleaseName(tt.component, tt.sha, tt.plan)
		assert.LessOrEqual(t, len(n), MaxNameLength, n)
		assert.Regexp(t, nameRE, n)
		assert.Equal(t, n, ReleaseName(tt.component, tt.sha, tt.plan), "deterministic")
		assert.False(t, seen[n], "distinct: %s", n)
		seen[n] = true
	}
	a := ReleaseName("c", testSHA, "plan-a")
	b := ReleaseName("c", testSHA, "plan-b")
	assert.NotEqual(t, a, b, "the plan is part of the name")
	assert.True(t, strings.HasPrefix(ReleaseName("automation-analytics-backend-main", testSHA, "x"), "automation-analytics-backend-main-a1b2c3d-"))
}

func FuzzReleaseName(f *testing.F) {
	f.Add("automation-analytics-backend-main", testSHA, "aap-aa-main-prod")
	f.Add("", "", "")
	f.Add("Ä-ö_ü..", "--", "x")
	f.Fuzz(func(t *testing.T, c, s, p string) {
		n := ReleaseName(c, s, p)
		if len(n) > MaxNameLength || !nameRE.MatchString(n) {
			t.Fatalf("ReleaseName(%q,%q,%q) = %q: not a valid Release name", c, s, p, n)
		}
	})
}

func TestReleasePlanReady(t *testing.T) {
	matched := []Condition{{Type: ConditionMatched, Status: "True", Reason: "Matched"}}
	tests := []struct {
		name string
		rp   ReleasePlan
		want failure.ID
		has  string
	}{
		{name: "ready", rp: ReleasePlan{Name: "p", Conditions: matched, Active: true}},
		{name: "no condition", rp: ReleasePlan{Name: "p", Active: true}, want: failure.ReleasePlanNotMatched, has: "missing"},
		{name: "not matched", rp: ReleasePlan{Name: "p", Conditions: []Condition{{Type: ConditionMatched, Status: "False", Reason: "NotMatched"}}},
			want: failure.ReleasePlanNotMatched, has: "False (NotMatched)"},
		{name: "inactive", rp: ReleasePlan{Name: "p", Conditions: matched, Admission: "managed/rpa"}, want: failure.ReleasePlanInactive, has: "managed/rpa"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.rp.Ready()
			if tt.want == "" {
				assert.NoError(t, err)
				return
			}
			assert.Equal(t, tt.want, idOf(err))
			assert.Contains(t, err.Error(), tt.has)
		})
	}
}

func TestReleaseOutcome(t *testing.T) {
	tests := []struct {
		name       string
		r          Release
		done, ok   bool
		failure    failure.ID
		failureHas []string
	}{
		{name: "no status yet", r: Release{Name: "r"}},
		{name: "progressing", r: Release{Name: "r", Conditions: []Condition{{Type: ConditionReleased, Status: "False", Reason: "Progressing"}}}},
		{name: "succeeded", r: Release{Name: "r", Conditions: []Condition{{Type: ConditionReleased, Status: "True", Reason: "Succeeded"}}}, done: true, ok: true},
		{name: "validation failed", r: Release{Name: "r", Conditions: []Condition{
			{Type: ConditionReleased, Status: "False", Reason: "Failed"},
			{Type: ConditionValidated, Status: "False", Reason: "Failed", Message: "release plan has no matching admission"}}},
			done: true, failure: failure.ReleaseValidationFailed, failureHas: []string{"no matching admission"}},
		{name: "pipeline OOM", r: Release{Name: "r", Conditions: []Condition{
			{Type: ConditionReleased, Status: "False", Reason: "Failed"},
			{Type: ConditionValidated, Status: "True"},
			{Type: ConditionManagedPipeline, Status: "False", Reason: "Failed", Message: "task push-snapshot failed"}},
			Attempts: []PipelineAttempt{{PipelineRun: "managed/run-1", FailureReason: "Timeout"}, {PipelineRun: "managed/run-2", FailureReason: "OOMKill", LastTask: "push-snapshot", LastStep: "push"}}},
			done: true, failure: failure.ReleasePipelineFailed, failureHas: []string{"OOMKill in task push-snapshot, step push", "task push-snapshot failed"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			done, ok := tt.r.Done()
			assert.Equal(t, tt.done, done)
			assert.Equal(t, tt.ok, ok)
			assert.NotEmpty(t, tt.r.Phase())
			if tt.failure != "" {
				err := tt.r.Failure("ns")
				a, found := failure.Explain(err)
				require.True(t, found)
				assert.Equal(t, tt.failure, a.ID)
				for _, h := range tt.failureHas {
					assert.Contains(t, err.Error(), h)
				}
				assert.NotContains(t, a.Cause+a.Fix, "{", "every placeholder filled: %s / %s", a.Cause, a.Fix)
			}
		})
	}
	oom := tests[4].r.Failure("ns")
	a, _ := failure.Explain(oom)
	assert.Contains(t, a.Fix, "ran out of memory")
	assert.Contains(t, a.Cause, "managed/run-2")
}

func TestReleaseRequestObject(t *testing.T) {
	req := ReleaseRequest{Component: "comp", Application: "app", SHA: testSHA, Snapshot: "snap-1", ReleasePlan: "plan"}
	u := req.Object("ns")
	assert.Equal(t, req.Name(), u.GetName())
	l := u.GetLabels()
	assert.Equal(t, testSHA, l[LabelSHA])
	assert.Equal(t, "comp", l[LabelComponent])
	assert.Equal(t, "app", l[LabelApplication])
	assert.Equal(t, "plan", l[LabelReleasePlan])
	assert.Equal(t, "snap-1", l[LabelSnapshot])
	assert.Equal(t, "false", l[LabelAutomated])
	req.Automated = true
	assert.Equal(t, "true", req.Object("ns").GetLabels()[LabelAutomated])
	assert.Equal(t, "snap-1", str(u, "spec", "snapshot"))
	assert.Equal(t, "plan", str(u, "spec", "releasePlan"))
}

func TestPrepend(t *testing.T) {
	var entries []HistoryEntry
	for i := range 250 {
		var err error
		entries, _, err = Prepend(entries, HistoryEntry{SHA: testSHA, Release: string(rune('a' + i%26)), Status: "Succeeded"}, 0)
		require.NoError(t, err)
	}
	assert.Len(t, entries, DefaultHistoryLimit)
	assert.Equal(t, string(rune('a'+249%26)), entries[0].Release, "newest first")

	big := strings.Repeat("x", 10_000)
	out, b, err := Prepend(entries, HistoryEntry{SHA: big, Component: big, Snapshot: big, Release: big, PipelineRun: big}, 10_000)
	require.NoError(t, err)
	assert.LessOrEqual(t, len(b), MaxHistoryBytes)
	assert.Len(t, out[0].SHA, maxFieldLength, "fields are bounded")

	many := make([]HistoryEntry, 5000)
	for i := range many {
		many[i] = HistoryEntry{SHA: testSHA, Component: strings.Repeat("c", 200), Snapshot: strings.Repeat("s", 200), Status: "Succeeded"}
	}
	out, b, err = Prepend(many, HistoryEntry{SHA: "new"}, 10_000)
	require.NoError(t, err)
	assert.LessOrEqual(t, len(b), MaxHistoryBytes, "stays well under the 1 MiB object limit")
	assert.Equal(t, "new", out[0].SHA)
	var back []HistoryEntry
	require.NoError(t, json.Unmarshal(b, &back))
	assert.Equal(t, out, back)
}

func TestHistoryLookups(t *testing.T) {
	h := []HistoryEntry{
		{SHA: "s2", Component: "other", Release: "r4", Status: "Succeeded"},
		{SHA: "s1", Component: "comp", Release: "r3", Status: "Failed"},
		{SHA: "s1", Component: "comp", Release: "r2", Status: "Succeeded"},
		{SHA: "s0", Component: "comp", Release: "r1", Status: "Succeeded"},
	}
	e, ok := Released(h, "comp", "s1")
	assert.True(t, ok)
	assert.Equal(t, "r2", e.Release, "only Succeeded entries count")
	_, ok = Released(h, "comp", "s9")
	assert.False(t, ok)
	_, ok = Released(h, "other", "s1")
	assert.False(t, ok)
	e, ok = Latest(h, "comp")
	assert.True(t, ok)
	assert.Equal(t, "r3", e.Release)
}

func TestDecodeHistory(t *testing.T) {
	got, err := DecodeHistory("")
	assert.NoError(t, err)
	assert.Empty(t, got)
	_, err = DecodeHistory(`{"not":"an array"}`)
	assert.ErrorContains(t, err, "not a JSON array")
	got, err = DecodeHistory(`[{"sha":"x","status":"Succeeded","pipelineRun":"pr-1"}]`)
	require.NoError(t, err)
	assert.Equal(t, []HistoryEntry{{SHA: "x", Status: "Succeeded", PipelineRun: "pr-1"}}, got)
}

func FuzzDecodeHistory(f *testing.F) {
	f.Add(`[{"sha":"x","status":"Succeeded"}]`)
	f.Add(`[]`)
	f.Add(`null`)
	f.Add(`[{"sha":1}]`)
	f.Fuzz(func(t *testing.T, data string) {
		entries, err := DecodeHistory(data)
		if err != nil {
			return
		}
		out, b, err := Prepend(entries, HistoryEntry{SHA: "new"}, 5)
		if err != nil {
			t.Fatal(err)
		}
		if len(out) > 5 || len(b) > MaxHistoryBytes && len(out) > 1 {
			t.Fatalf("history not bounded: %d entries, %d bytes", len(out), len(b))
		}
	})
}
