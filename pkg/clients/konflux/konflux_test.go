package konflux

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation"
	dynamicfake "k8s.io/client-go/dynamic/fake"

	"github.com/release-to-prod/release-to-prod/pkg/step/failure"
)

const testSHA = "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678"

func snap(name string, age time.Duration, event, tests string, extra ...Condition) Snapshot {
	s := Snapshot{Name: name, Created: time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC).Add(-age), EventType: event,
		Labels: map[string]string{LabelEventType: event}, Annotations: map[string]string{}, Images: map[string]string{"comp": "reg/x@sha256:" + strings.Repeat("a", 64)}}
	if event == "" {
		delete(s.Labels, LabelEventType)
	}
	if event == "pull_request" || event == "Merge_Request" {
		// PaC labels a pull-request build with its number; integration-service needs both labels
		// to call a Snapshot a pull-request one.
		s.Labels[LabelPullRequest] = "42"
	}
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
	canceled := Condition{Type: ConditionIntegrationStatus, Status: "True", Reason: "Canceled", Message: "Snapshot canceled/superseded by newer Snapshot"}
	mergeQueue := func(name string, age time.Duration) Snapshot {
		sn := snap(name, age, "push", "True")
		sn.Annotations[AnnotationSourceBranch] = "refs/heads/gh-readonly-queue/main/pr-7-abc"
		return sn
	}
	builtAt := func(sn Snapshot, ms int64) Snapshot {
		sn.Annotations[AnnotationBuildStartTime] = strconv.FormatInt(ms, 10)
		return sn
	}
	tests := []struct {
		name       string
		snaps      []Snapshot
		allowOlder bool
		want       string
		wantErr    failure.ID
		msgHas     string
	}{
		{name: "newest passing push wins over older ones and a newer PR one",
			snaps: []Snapshot{snap("old-pass", 3*time.Hour, "push", "True"), snap("mid-pass", 2*time.Hour, "push", "True"),
				snap("pr", 0, "pull_request", "True")},
			want: "mid-pass"},
		{name: "the newest test evidence wins: a newer failing Snapshot blocks an older passing one",
			snaps:   []Snapshot{snap("mid-pass", 2*time.Hour, "push", "True"), snap("new-fail", time.Hour, "push", "False")},
			wantErr: failure.SnapshotNewerFailed, msgHas: "new-fail, the newest of commit " + testSHA + ", failed its integration tests: tests False (older Snapshot mid-pass passed)"},
		{name: "allow older: the older passing Snapshot goes deliberately",
			snaps:      []Snapshot{snap("mid-pass", 2*time.Hour, "push", "True"), snap("new-fail", time.Hour, "push", "False")},
			allowOlder: true, want: "mid-pass"},
		{name: "newer still running blocks an older passing one",
			snaps:   []Snapshot{snap("mid-pass", 2*time.Hour, "push", "True"), snap("new-run", time.Hour, "push", "Unknown")},
			wantErr: failure.SnapshotTestsRunning, msgHas: "older Snapshot mid-pass passed"},
		{name: "GitLab Push counts", snaps: []Snapshot{snap("gl", 0, "Push", "True")}, want: "gl"},
		{name: "no event-type label counts as push", snaps: []Snapshot{snap("manual", 0, "", "True")}, want: "manual"},
		{name: "pull_request without a pull-request label counts as push, as integration-service reads it",
			snaps: []Snapshot{func() Snapshot {
				sn := snap("odd", 0, "pull_request", "True")
				delete(sn.Labels, LabelPullRequest)
				return sn
			}()}, want: "odd"},
		{name: "merge-queue Snapshot is ignored", snaps: []Snapshot{mergeQueue("mq", 0), snap("merged", time.Hour, "push", "True")}, want: "merged"},
		{name: "only a merge-queue Snapshot", snaps: []Snapshot{mergeQueue("mq", 0)}, wantErr: failure.SnapshotMissing, msgHas: "merge-queue"},
		{name: "invalid is skipped", snaps: []Snapshot{snap("inv", 0, "push", "True", invalid), snap("ok", time.Hour, "push", "True")}, want: "ok"},
		{name: "canceled is skipped", snaps: []Snapshot{snap("canc", 0, "push", "", canceled), snap("ok", time.Hour, "push", "True")}, want: "ok"},
		{name: "only canceled: superseded, not running", snaps: []Snapshot{snap("canc", 0, "push", "Unknown", canceled)},
			wantErr: failure.SnapshotSuperseded, msgHas: "superseded by a newer Snapshot"},
		{name: "build start time orders, not creation time",
			snaps:   []Snapshot{builtAt(snap("built-late", 2*time.Hour, "push", "False"), 1_767_268_800_000), builtAt(snap("built-early", 0, "push", "True"), 1_767_265_200)},
			wantErr: failure.SnapshotNewerFailed, msgHas: "built-late"},
		{name: "legacy test condition", snaps: []Snapshot{{Name: "legacy", EventType: "push", Labels: map[string]string{LabelEventType: "push"},
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
			got, _, err := FindSnapshot(tt.snaps, "comp", testSHA, "ns", SnapshotChoice{AllowOlder: tt.allowOlder})
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Equal(t, tt.wantErr, idOf(err))
				assert.Contains(t, err.Error(), tt.msgHas)
				a, _ := failure.Explain(err)
				assert.NotContains(t, a.Cause+a.Fix, "{", "every placeholder filled: %s / %s", a.Cause, a.Fix)
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
	img, got, err := s.Digest("a", testSHA)
	require.NoError(t, err)
	assert.Equal(t, d, got)
	assert.Equal(t, "reg:5000/x/y@"+d, img)
	for _, c := range []string{"b", "c", "missing"} {
		_, _, err := s.Digest(c, testSHA)
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
		{name: "task timed out", r: Release{Name: "r", Conditions: []Condition{
			{Type: ConditionReleased, Status: "False", Reason: "Failed"},
			{Type: ConditionManagedPipeline, Status: "False", Reason: "Failed", Message: "Release processing failed on managed pipelineRun"}},
			Attempts: []PipelineAttempt{{PipelineRun: "managed/run-1", FailureReason: AttemptTaskRunTimeout, LastTask: "sign"}}},
			done: true, failure: failure.ReleasePipelineFailed, failureHas: []string{"TaskRunTimeout in task sign"}},
		{name: "no managed attempt", r: Release{Name: "r", Conditions: []Condition{
			{Type: ConditionReleased, Status: "False", Reason: "Failed", Message: "Release processing failed on managed pipelineRun creation"}}},
			done: true, failure: failure.ReleasePipelineFailed, failureHas: []string{"managed pipelineRun creation"}},
		{name: "tenant pipeline failed", r: Release{Name: "r", Conditions: []Condition{
			{Type: ConditionReleased, Status: "False", Reason: "Failed"},
			{Type: ConditionTenantPipeline, Status: "False", Reason: "Failed", Message: "tenant task failed"}}},
			done: true, failure: failure.ReleasePipelineFailed, failureHas: []string{"tenant pipeline: tenant task failed"}},
		{name: "final pipeline failed after production", r: Release{Name: "r", Conditions: []Condition{
			{Type: ConditionReleased, Status: "False", Reason: "Failed", Message: "Release processing failed on final pipelineRun"},
			{Type: ConditionManagedPipeline, Status: "True", Reason: "Succeeded"},
			{Type: ConditionFinalPipeline, Status: "False", Reason: "Failed", Message: "jira update failed"}}},
			done: true, failure: failure.ReleaseFailedAfterProduction, failureHas: []string{"the content is in production", "final pipeline failed: jira update failed"}},
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
	assert.NotContains(t, a.Fix, "delete the Release", "a failed Release does not block a new one")

	a, _ = failure.Explain(tests[6].r.Failure("ns"))
	assert.NotContains(t, a.Cause, "?", "no placeholder PipelineRun: %s", a.Cause)
	assert.Contains(t, a.Cause, "no PipelineRun was recorded")

	after := tests[8].r
	assert.True(t, after.InProduction(), "the managed pipeline succeeded: in production")
	a, _ = failure.Explain(after.Failure("ns"))
	assert.Contains(t, a.Fix, "do not release again")
	assert.NotContains(t, a.Fix, "re-run", "never advice that releases again")
	assert.False(t, tests[4].r.InProduction())
	skipped := Release{Conditions: []Condition{{Type: ConditionManagedPipeline, Status: "True", Reason: "Skipped"}, {Type: ConditionReleased, Status: "False", Reason: "Failed"}}}
	assert.False(t, skipped.InProduction(), "a skipped managed pipeline released nothing")
}

func TestClassify(t *testing.T) {
	now := time.Now()
	rel := func(name, plan string, age time.Duration, conds ...Condition) Release {
		return Release{Name: name, ReleasePlan: plan, Created: now.Add(-age), Conditions: conds}
	}
	ok := Condition{Type: ConditionReleased, Status: "True", Reason: "Succeeded"}
	failed := Condition{Type: ConditionReleased, Status: "False", Reason: "Failed"}
	running := Condition{Type: ConditionReleased, Status: "False", Reason: "Progressing"}
	c := Classify([]Release{rel("run", "p", 0, running), rel("other-plan", "q", 0, ok), rel("bad", "p", time.Hour, failed), rel("new", "p", 2*time.Hour)}, "p")
	assert.Nil(t, c.Released, "another plan's success does not count")
	require.Len(t, c.Running, 2)
	assert.Equal(t, "run", c.Running[0].Name)
	require.Len(t, c.Failed, 1)
	c = Classify([]Release{rel("bad", "p", 0, failed), rel("good", "p", time.Hour, ok)}, "p")
	require.NotNil(t, c.Released)
	assert.Equal(t, "good", c.Released.Name)
	labelled := Release{Name: "l", Labels: map[string]string{LabelReleasePlan: "p"}}
	assert.True(t, labelled.ThroughPlan("p"))
}

func TestReleaseNameAttempt(t *testing.T) {
	first := ReleaseNameAttempt("c", testSHA, "p", 1)
	assert.Equal(t, ReleaseName("c", testSHA, "p"), first)
	assert.Equal(t, first, ReleaseNameAttempt("c", testSHA, "p", 0))
	second := ReleaseNameAttempt("c", testSHA, "p", 2)
	assert.NotEqual(t, first, second)
	assert.Equal(t, second, ReleaseNameAttempt("c", testSHA, "p", 2), "deterministic")
	assert.LessOrEqual(t, len(second), MaxNameLength)
}

func TestAutoRelease(t *testing.T) {
	tests := []struct {
		name        string
		labels      map[string]string
		annotations map[string]string
		snapLabels  map[string]string
		snapAnn     map[string]string
		want        bool
		whyHas      string
	}{
		{name: "no label: on by default", want: true, whyHas: "on by default"},
		{name: "label true", labels: map[string]string{LabelAutoRelease: "true"}, want: true},
		{name: "label false", labels: map[string]string{LabelAutoRelease: "false"}, want: false},
		{name: "CEL annotation wins over the label", labels: map[string]string{LabelAutoRelease: "false"},
			annotations: map[string]string{LabelAutoRelease: `updatedComponentIs("x")`}, want: true, whyHas: "annotation"},
		{name: "annotation false", annotations: map[string]string{LabelAutoRelease: "false"}, want: false},
		{name: "Snapshot opted out", snapLabels: map[string]string{LabelAutoRelease: "false"}, want: false, whyHas: "Snapshot"},
		{name: "build said SHOULD_RELEASE=false", snapAnn: map[string]string{AnnotationShouldRelease: "false"}, want: false, whyHas: "SHOULD_RELEASE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rp := ReleasePlan{Name: "p", Labels: tt.labels, Annotations: tt.annotations}
			got, why := rp.AutoRelease(&Snapshot{Name: "s", Labels: tt.snapLabels, Annotations: tt.snapAnn})
			assert.Equal(t, tt.want, got, why)
			assert.Contains(t, why, tt.whyHas)
		})
	}
	for _, v := range []string{"", "block", " Observe "} {
		_, err := ParseAutoRelease(v)
		assert.NoError(t, err, v)
	}
	_, err := ParseAutoRelease("maybe")
	assert.Equal(t, failure.InvalidInput, idOf(err))
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
	assert.NotContains(t, l, LabelAutomated, "only integration-service may set the automated label")
	assert.Equal(t, "person", u.GetAnnotations()[AnnotationStartedBy])
	req.Automated = true
	auto := req.Object("ns")
	assert.NotContains(t, auto.GetLabels(), LabelAutomated, "never, even when automation started the run")
	assert.Equal(t, "automation", auto.GetAnnotations()[AnnotationStartedBy])
	req.ComponentGroup, req.Application = "grp", ""
	g := req.Object("ns").GetLabels()
	assert.Equal(t, "grp", g[LabelComponentGroup])
	assert.NotContains(t, g, LabelApplication)
	assert.Equal(t, "snap-1", str(u, "spec", "snapshot"))
	assert.Equal(t, "plan", str(u, "spec", "releasePlan"))
}

// TestReleaseRecord: the Release carries the run's record from its creation, within what labels
// and annotations accept.
func TestReleaseRecord(t *testing.T) {
	long := strings.Repeat("a", 64)
	for _, tc := range []struct {
		name, run, gates     string
		wantLabel, wantAnnot string
		wantGates            string
		wantGatesMaxBytes    int
	}{
		{name: "a run and its gates", run: "release-to-prod-x7k2p", gates: "image ✓, konflux ✓, alerts ✓",
			wantLabel: "release-to-prod-x7k2p", wantAnnot: "release-to-prod-x7k2p", wantGates: "image ✓, konflux ✓, alerts ✓"},
		{name: "a run name over a label value's 63 characters: annotation only", run: long, wantAnnot: long},
		{name: "a run name a label value may not hold: annotation only", run: "run_with.odd-", wantAnnot: "run_with.odd-"},
		{name: "no record given", run: "", gates: "  "},
		{name: "gates bounded, one plain line", run: "r", gates: strings.Repeat("alerts ✗\n", 200), wantLabel: "r", wantAnnot: "r", wantGatesMaxBytes: MaxGatesAnnotation},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := ReleaseRequest{Component: "comp", Application: "app", SHA: testSHA, Snapshot: "s", ReleasePlan: "p", PipelineRun: tc.run, Gates: tc.gates}.Object("ns")
			l, a := u.GetLabels(), u.GetAnnotations()
			assert.Equal(t, tc.wantLabel, l[LabelPipelineRun])
			assert.Equal(t, tc.wantAnnot, a[AnnotationPipelineRun])
			if tc.wantGatesMaxBytes > 0 {
				assert.LessOrEqual(t, len(a[AnnotationGates]), tc.wantGatesMaxBytes)
				assert.NotContains(t, a[AnnotationGates], "\n")
				assert.NotEmpty(t, a[AnnotationGates])
			} else {
				assert.Equal(t, tc.wantGates, a[AnnotationGates])
			}
			for k, v := range l {
				assert.Empty(t, validation.IsValidLabelValue(v), "label %s=%q", k, v)
			}
			assert.Equal(t, CreatedBy, l[LabelCreatedBy])
		})
	}
}

// TestReleaseDoubt: every way the release service (75576be) can finish a Release as failed
// while its managed PipelineRun may have pushed — and the ways that are certainly not in doubt.
func TestReleaseDoubt(t *testing.T) {
	failed := Condition{Type: ConditionReleased, Status: "False", Reason: "Failed", Message: "Release validation failed"}
	running := Condition{Type: ConditionReleased, Status: "False", Reason: "Progressing"}
	succeeded := Condition{Type: ConditionReleased, Status: "True", Reason: "Succeeded"}
	skipped := Condition{Type: ConditionManagedPipeline, Status: "True", Reason: "Skipped"}
	attempt := func(status string) []PipelineAttempt {
		return []PipelineAttempt{{PipelineRun: "managed-ns/managed-x1", Status: status}}
	}
	tests := []struct {
		name   string
		r      Release
		doubt  bool
		whyHas string
	}{
		{name: "failedPostValidation with the managed run recorded", r: Release{Conditions: []Condition{failed, skipped,
			{Type: ConditionValidated, Status: "False", Reason: "Failed", Message: "found ReleasePlanAdmission 'rpa' with block-releases label set to true"}},
			Attempts: attempt("Progressing"), FailedPostValidation: true}, doubt: true, whyHas: "failedPostValidation: found ReleasePlanAdmission"},
		{name: "failedPostValidation before Released turned", r: Release{Conditions: []Condition{running}, FailedPostValidation: true}, doubt: true, whyHas: "failedPostValidation"},
		{name: "last managed attempt still Progressing", r: Release{Conditions: []Condition{failed}, Attempts: attempt("Progressing")}, doubt: true, whyHas: "still Progressing"},
		{name: "managed Skipped with a PipelineRun recorded", r: Release{Conditions: []Condition{failed, skipped}, Attempts: attempt("Succeeded")}, doubt: true, whyHas: "marked Skipped although managed PipelineRun managed-ns/managed-x1"},
		{name: "tenant collectors failed", r: Release{Conditions: []Condition{failed, {Type: ConditionTenantCollectors, Status: "False", Reason: "Failed", Message: "collector jira 500"}}}, doubt: true, whyHas: "tenant collectors pipeline failed"},
		{name: "managed collectors failed", r: Release{Conditions: []Condition{failed, {Type: ConditionManagedCollectors, Status: "False", Reason: "Failed"}}}, doubt: true, whyHas: "managed collectors pipeline failed"},
		{name: "managed Skipped, no PipelineRun: nothing ran", r: Release{Conditions: []Condition{failed, skipped}}},
		{name: "managed attempt failed", r: Release{Conditions: []Condition{failed, {Type: ConditionManagedPipeline, Status: "False", Reason: "Failed"}}, Attempts: attempt("Failed")}},
		{name: "succeeded", r: Release{Conditions: []Condition{succeeded}, Attempts: attempt("Succeeded"), FailedPostValidation: true}},
		{name: "still running", r: Release{Conditions: []Condition{running}, Attempts: attempt("Progressing")}},
		{name: "collectors still running", r: Release{Conditions: []Condition{running, {Type: ConditionTenantCollectors, Status: "False", Reason: "Progressing"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.r.Name, tt.r.Snapshot = "rel-1", "snap-1"
			why, check, ok := tt.r.Doubt()
			require.Equal(t, tt.doubt, ok, why)
			assert.Equal(t, tt.doubt, tt.r.Doubtful())
			if !tt.doubt {
				return
			}
			assert.Contains(t, why, tt.whyHas)
			assert.NotEmpty(t, check)
			a, found := failure.Explain(tt.r.DoubtError("ns"))
			require.True(t, found)
			assert.Equal(t, failure.ReleaseMayBeInProduction, a.ID)
			assert.Contains(t, a.Cause, "Release rel-1 (Snapshot snap-1) did not succeed, yet its content may have reached production")
			assert.Contains(t, a.Fix, "do not release this commit again")
			assert.NotContains(t, a.Cause+a.Fix, "{")
			c := Classify([]Release{tt.r}, "")
			assert.Len(t, c.Doubtful, 1, "never counted as failed (which would allow a new Release)")
			assert.Empty(t, c.Failed)
			assert.Nil(t, c.Released)
		})
	}
}

// TestSnapshotEntryVersions: a component listed once per version is picked by
// source.git.revision, as the release service reads a Snapshot.
func TestSnapshotEntryVersions(t *testing.T) {
	d1, d2 := "sha256:"+strings.Repeat("1", 64), "sha256:"+strings.Repeat("2", 64)
	const other = "ffffffffffffffffffffffffffffffffffffffff"
	s := Snapshot{Name: "s", Components: []SnapshotComponent{
		{Name: "comp", Image: "reg/x@" + d1, Revision: other},
		{Name: "comp", Image: "reg/x@" + d2, Revision: testSHA},
		{Name: "lib", Image: "reg/lib@" + d1},
	}}
	_, got, err := s.Digest("comp", testSHA)
	require.NoError(t, err)
	assert.Equal(t, d2, got, "the version built from the commit, not the first listed")
	_, got, err = s.Digest("comp", other)
	require.NoError(t, err)
	assert.Equal(t, d1, got)
	_, _, err = s.Digest("comp", "0000000000000000000000000000000000000000")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "lists component comp 2 times (versions), none with source.git.revision")
	_, got, err = s.Digest("lib", testSHA)
	require.NoError(t, err, "a component listed once is that entry")
	assert.Equal(t, d1, got)
}

// TestPlanReady: plans as the release service reads them: a plan without a target is
// tenant-only and usable; an inactive admission blocks only when block-releases is "true".
func TestPlanReady(t *testing.T) {
	rpa := func(label string) *unstructured.Unstructured {
		u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": Group + "/" + Version, "kind": "ReleasePlanAdmission",
			"metadata": map[string]any{"name": "app-rpa", "namespace": "managed"}}}
		if label != "" {
			u.SetLabels(map[string]string{LabelBlockReleases: label})
		}
		return u
	}
	matched := []Condition{{Type: ConditionMatched, Status: "True", Reason: "Matched"}}
	tests := []struct {
		name    string
		plan    ReleasePlan
		rpa     *unstructured.Unstructured
		wantErr failure.ID
		has     string
	}{
		{name: "tenant-only: no target", plan: ReleasePlan{Name: "p", Conditions: []Condition{{Type: ConditionMatched, Status: "False"}}}, has: "tenant-only"},
		{name: "matched and active", plan: ReleasePlan{Name: "p", Target: "managed", Conditions: matched, Admission: "managed/app-rpa", Active: true}, has: "matched to managed/app-rpa, active"},
		{name: "not matched", plan: ReleasePlan{Name: "p", Target: "managed"}, wantErr: failure.ReleasePlanNotMatched},
		{name: "inactive, admission without the label: admitted", plan: ReleasePlan{Name: "p", Target: "managed", Conditions: matched, Admission: "managed/app-rpa"},
			rpa: rpa(""), has: "only \"true\" blocks"},
		{name: "inactive, block-releases=True (not exactly true): admitted", plan: ReleasePlan{Name: "p", Target: "managed", Conditions: matched, Admission: "managed/app-rpa"},
			rpa: rpa("True"), has: `block-releases="True"`},
		{name: "inactive, block-releases=true: blocked", plan: ReleasePlan{Name: "p", Target: "managed", Conditions: matched, Admission: "managed/app-rpa"},
			rpa: rpa("true"), wantErr: failure.ReleasePlanInactive},
		{name: "inactive, admission not readable: the status decides", plan: ReleasePlan{Name: "p", Target: "managed", Conditions: matched, Admission: "managed/app-rpa"},
			wantErr: failure.ReleasePlanInactive},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var objs []runtime.Object
			if tt.rpa != nil {
				objs = append(objs, tt.rpa)
			}
			c := &Client{Dynamic: dynamicfake.NewSimpleDynamicClient(runtime.NewScheme(), objs...), Namespace: "tenant"}
			got, err := c.PlanReady(context.Background(), &tt.plan)
			if tt.wantErr != "" {
				assert.Equal(t, tt.wantErr, idOf(err), "%v", err)
				return
			}
			require.NoError(t, err)
			assert.Contains(t, got, tt.has)
		})
	}
}

// TestCheckOrderMany: with more Releases than are read one by one, the order is judged while
// streaming the component's Snapshots, and finds the same newer build.
func TestCheckOrderMany(t *testing.T) {
	base := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	digest := func(i int) string { return "reg/comp@sha256:" + fmt.Sprintf("%064x", i) }
	snapObj := func(name, sha, image string, built time.Time) *unstructured.Unstructured {
		return &unstructured.Unstructured{Object: map[string]any{"apiVersion": Group + "/" + Version, "kind": "Snapshot",
			"metadata": map[string]any{"name": name, "namespace": "tenant", "labels": map[string]any{LabelComponent: "comp", LabelSHA: sha},
				"annotations": map[string]any{AnnotationBuildStartTime: strconv.FormatInt(built.Unix(), 10)}},
			"spec": map[string]any{"application": "app", "components": []any{map[string]any{"name": "comp", "containerImage": image, "source": map[string]any{"git": map[string]any{"revision": sha}}}}}}}
	}
	relObj := func(name, snapshot string, created time.Time) *unstructured.Unstructured {
		u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": Group + "/" + Version, "kind": "Release",
			"metadata": map[string]any{"name": name, "namespace": "tenant", "labels": map[string]any{LabelReleasePlan: "plan"}},
			"spec":     map[string]any{"snapshot": snapshot, "releasePlan": "plan"},
			"status":   map[string]any{"conditions": []any{map[string]any{"type": ConditionReleased, "status": "True", "reason": "Succeeded"}}}}}
		u.SetCreationTimestamp(metav1.NewTime(created))
		return u
	}
	for _, n := range []int{3, 120} {
		t.Run(strconv.Itoa(n), func(t *testing.T) {
			ours := snapObj("ours", testSHA, digest(0), base)
			objs := []runtime.Object{ours}
			for i := 1; i <= n; i++ {
				sha := fmt.Sprintf("%040x", i)
				// Every one holds an older build than ours, except the one in the middle.
				built := base.Add(-time.Duration(i) * time.Minute)
				if i == n/2+1 {
					built = base.Add(time.Hour)
				}
				objs = append(objs, snapObj(fmt.Sprintf("s%d", i), sha, digest(i), built), relObj(fmt.Sprintf("r%d", i), fmt.Sprintf("s%d", i), base.Add(time.Duration(i)*time.Minute)))
			}
			dyn := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), map[schema.GroupVersionResource]string{
				ReleasesResource: "ReleaseList", SnapshotsResource: "SnapshotList"}, objs...)
			c := &Client{Dynamic: dyn, Namespace: "tenant"}
			sn := snapshotFrom(ours)
			rep, err := c.CheckOrder(context.Background(), OrderQuery{Component: "comp", SHA: testSHA, Plan: "plan", Snapshot: &sn})
			require.NoError(t, err)
			require.NotNil(t, rep.Newer)
			assert.Equal(t, fmt.Sprintf("r%d", n/2+1), rep.Newer.Release)
			assert.Equal(t, fmt.Sprintf("%040x", n/2+1), rep.Newer.SHA)
			assert.Equal(t, n, rep.Compared)
			assert.Equal(t, fmt.Sprintf("r%d", n), rep.Last.Name, "the newest Release")
		})
	}
}
