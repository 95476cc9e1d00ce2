package history

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/release-to-prod/release-to-prod/pkg/clients/konflux"
	"github.com/release-to-prod/release-to-prod/pkg/step/failure"
)

// pipelineRunObject is a release-to-prod PipelineRun as Tekton leaves it: its params, the
// Pipeline's spec in its status (defaults included), and the results the report fed.
func pipelineRunObject(name, component, sha, finished string, results map[string]string) *unstructured.Unstructured {
	params := []any{map[string]any{"name": "commit_sha", "value": sha}}
	if component != "" {
		params = append(params, map[string]any{"name": "component", "value": component})
	}
	var res []any
	for k, v := range results {
		res = append(res, map[string]any{"name": k, "value": v})
	}
	status := map[string]any{
		"startTime": "2026-03-01T09:00:00Z",
		"pipelineSpec": map[string]any{
			"params": []any{
				map[string]any{"name": "commit_sha"},
				map[string]any{"name": "component", "default": "comp"},
			},
			"finally": []any{map[string]any{"name": "report"}},
		},
		"conditions": []any{map[string]any{"type": "Succeeded", "status": "False", "reason": "PipelineRunTimeout"}},
	}
	if finished != "" {
		status["completionTime"] = finished
	}
	if res != nil {
		status["results"] = res
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "tekton.dev/v1", "kind": "PipelineRun",
		"metadata": map[string]any{"name": name, "namespace": "ns"},
		"spec":     map[string]any{"params": params},
		"status":   status,
	}}
}

// recordedRelease is a Release create-release made, with the record it carries.
func recordedRelease(name, component, sha, run, released, completed string) *unstructured.Unstructured {
	req := konflux.ReleaseRequest{Component: component, Application: "app", SHA: sha, Snapshot: "snap", ReleasePlan: "plan",
		Attempt: 1, PipelineRun: run, Gates: "image ✓, konflux ✓"}
	u := req.Object("ns")
	u.SetName(name)
	if released != "" {
		u.Object["status"] = map[string]any{
			"completionTime": completed,
			"conditions":     []any{map[string]any{"type": "Released", "status": released, "reason": map[string]string{"True": "Succeeded", "False": "Failed"}[released]}},
		}
	}
	return u
}

func historyConfigMap(t *testing.T, entries ...Entry) *unstructured.Unstructured {
	b, err := json.Marshal(entries)
	require.NoError(t, err)
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": "release-history", "namespace": "ns"},
		"data":     map[string]any{Key: string(b)},
	}}
}

// TestCollect: one table from whichever stores hold the history, one row per run, newest
// first, and a store that cannot be read is a note, not a failure.
func TestCollect(t *testing.T) {
	const other = "fedcba9876543210fedcba9876543210fedcba98"
	released := pipelineRunObject("run-1", "comp", testSHA, "2026-03-01T10:00:00Z",
		map[string]string{"RELEASE_STATUS": "Succeeded", "RELEASE_NAME": "rel-1", "GATE_SUMMARY": "image ✓, konflux ✓"})
	blocked := pipelineRunObject("run-2", "", other, "2026-03-01T11:00:00Z", // component from the Pipeline's default
		map[string]string{"RELEASE_STATUS": "Blocked", "RELEASE_NAME": "", "GATE_SUMMARY": "image ✓, alerts ✗"})
	timedOut := pipelineRunObject("run-3", "comp", other, "2026-03-01T12:00:00Z", nil) // finally skipped: no results
	otherComponent := pipelineRunObject("run-4", "another", other, "2026-03-01T13:00:00Z", map[string]string{"RELEASE_STATUS": "Succeeded"})
	notOurs := pipelineRunObject("build-1", "comp", testSHA, "2026-03-01T13:00:00Z", nil)
	notOurs.Object["status"].(map[string]any)["pipelineSpec"] = map[string]any{"params": []any{map[string]any{"name": "revision"}}}
	rel := recordedRelease("rel-1", "comp", testSHA, "run-1", "True", "2026-03-01T09:59:00Z")
	oldRel := recordedRelease("rel-0", "comp", other, "", "False", "2026-02-01T10:00:00Z") // made before the record existed

	want := []Run{
		{PipelineRun: "run-3", Commit: other, Component: "comp", Outcome: "PipelineRunTimeout", When: at("2026-03-01T12:00:00Z"), Sources: []string{FromPipelineRun}},
		{PipelineRun: "run-2", Commit: other, Component: "comp", Outcome: "Blocked", When: at("2026-03-01T11:00:00Z"), Gates: "image ✓, alerts ✗", Sources: []string{FromPipelineRun}},
		{PipelineRun: "run-1", Commit: testSHA, Component: "comp", Outcome: "Succeeded", When: at("2026-03-01T10:00:00Z"), Release: "rel-1", Gates: "image ✓, konflux ✓", Sources: []string{FromPipelineRun, FromRelease}},
		{Commit: other, Component: "comp", Outcome: "Failed", When: at("2026-02-01T10:00:00Z"), Release: "rel-0", Gates: "image ✓, konflux ✓", Sources: []string{FromRelease}},
	}
	tests := []struct {
		name       string
		objects    []runtime.Object
		forbid     map[string]bool // resource → list/get refused
		want       []Run
		notes      int
		wantErrMsg string
	}{
		{name: "hosted: ConfigMap missing, Releases and PipelineRuns", objects: []runtime.Object{released, blocked, timedOut, otherComponent, notOurs, rel, oldRel}, want: want},
		{name: "hosted: ConfigMap not readable is a note", objects: []runtime.Object{released, blocked, timedOut, rel, oldRel},
			forbid: map[string]bool{"configmaps": true}, want: want, notes: 1},
		{name: "self-hosted: the ConfigMap's entry and the PipelineRun are one run", objects: []runtime.Object{
			historyConfigMap(t,
				Entry{SHA: testSHA, Component: "comp", Status: "Succeeded", Release: "rel-1", PipelineRun: "run-1", Finished: "2026-03-01T10:00:01Z"},
				Entry{SHA: other, Component: "another", Status: "Succeeded", PipelineRun: "run-9"}),
			released, rel},
			want: []Run{{PipelineRun: "run-1", Commit: testSHA, Component: "comp", Outcome: "Succeeded", When: at("2026-03-01T10:00:01Z"), Release: "rel-1",
				Gates: "image ✓, konflux ✓", Sources: []string{FromConfigMap, FromPipelineRun, FromRelease}}}},
		{name: "only the ConfigMap readable", objects: []runtime.Object{
			historyConfigMap(t, Entry{SHA: testSHA, Component: "comp", Status: "Blocked", PipelineRun: "run-1", Cause: "alerts", Finished: "2026-03-01T10:00:00Z"})},
			forbid: map[string]bool{"pipelineruns": true, "releases": true}, notes: 2,
			want: []Run{{PipelineRun: "run-1", Commit: testSHA, Component: "comp", Outcome: "Blocked", When: at("2026-03-01T10:00:00Z"), Cause: "alerts", Sources: []string{FromConfigMap}}}},
		{name: "no store readable", forbid: map[string]bool{"pipelineruns": true, "releases": true, "configmaps": true}, notes: 3,
			wantErrMsg: "no store of the release history could be read"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dyn := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), map[schema.GroupVersionResource]string{
				konflux.ReleasesResource:     "ReleaseList",
				konflux.PipelineRunsResource: "PipelineRunList",
				ConfigMapsResource:           "ConfigMapList",
			}, tt.objects...)
			dyn.PrependReactor("*", "*", func(a k8stesting.Action) (bool, runtime.Object, error) {
				if tt.forbid[a.GetResource().Resource] {
					return true, nil, apierrors.NewForbidden(a.GetResource().GroupResource(), "", nil)
				}
				return false, nil, nil
			})
			got, err := Collect(context.Background(), &konflux.Client{Dynamic: dyn, Namespace: "ns"}, "comp", "release-history")
			assert.Len(t, got.Notes, tt.notes, "notes: %v", got.Notes)
			if tt.wantErrMsg != "" {
				assert.ErrorContains(t, err, tt.wantErrMsg)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got.Runs)
		})
	}
}

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// TestMergeOutcome: a run's own record gives the outcome; the Release's state only stands in
// when nothing else recorded the run.
func TestMergeOutcome(t *testing.T) {
	fromRelease := Run{PipelineRun: "r", Release: "rel", Outcome: "Succeeded", When: at("2026-03-01T10:05:00Z"), Sources: []string{FromRelease}}
	fromRun := Run{PipelineRun: "r", Release: "rel", Outcome: "Running", When: at("2026-03-01T10:00:00Z"), Sources: []string{FromPipelineRun}}
	for _, tc := range []struct {
		name  string
		lists [][]Run
		want  string
	}{
		{"the run's record first", [][]Run{{fromRun}, {fromRelease}}, "Running"},
		{"the run's record after the Release's", [][]Run{{fromRelease}, {fromRun}}, "Running"},
		{"the Release alone", [][]Run{{fromRelease}}, "Succeeded"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Merge(tc.lists...)
			require.Len(t, got, 1)
			assert.Equal(t, tc.want, got[0].Outcome)
		})
	}
}

// TestRefusedNote: a refused history write names the right and where the record is, within
// the 300 bytes Slack shows of it; a refused read is not one.
func TestRefusedNote(t *testing.T) {
	forbidden := func(verb string) error {
		return failure.Wrap(failure.NotPermitted, map[string]string{"verb": verb, "resource": "configmaps"}, errors.New("forbidden"))
	}
	for _, tc := range []struct {
		name  string
		err   error
		entry Entry
		ok    bool
		place string
	}{
		{"create refused, the run released", forbidden("create"), Entry{Status: "Succeeded", Release: "r", Component: "automation-analytics-backend-main"}, true, "on the Release and in the PipelineRun's results"},
		{"update refused, already released", forbidden("update"), Entry{Status: "AlreadyReleased", Release: "r", Component: "automation-analytics-backend-main"}, true, "in the PipelineRun's results"},
		{"update refused, blocked", forbidden("update"), Entry{Status: "Blocked", Component: "automation-analytics-backend-main"}, true, "in the PipelineRun's results"},
		{"a read refused: a binding is missing", forbidden("get"), Entry{}, false, ""},
		{"not a refusal", errors.New("connection reset"), Entry{}, false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			verb, ok := writeRefused(tc.err)
			require.Equal(t, tc.ok, ok)
			if !ok {
				return
			}
			note := refusedNote("release-history", "aap-aa-tenant", verb, tc.entry)
			assert.Contains(t, note, "the ServiceAccount may not "+verb+" configmaps")
			assert.Contains(t, note, tc.place)
			assert.Contains(t, note, "tkn-local history automation-analytics-backend-main -n aap-aa-tenant")
			assert.LessOrEqual(t, len(note), 300, "whole in what Slack shows: %s", note)
		})
	}
}
