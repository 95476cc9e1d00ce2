package history

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"

	"github.com/release-to-prod/release-to-prod/pkg/clients/konflux"
	"github.com/release-to-prod/release-to-prod/pkg/step/outcome"
)

const testSHA = "0123456789abcdef0123456789abcdef01234567"

func releaseObject(name, snapshot, releasedStatus, reason string, created time.Time) *unstructured.Unstructured {
	u := konflux.ReleaseRequest{SHA: testSHA, Component: "comp", Application: "app", ReleasePlan: "plan", Snapshot: snapshot}.Object("ns")
	u.SetName(name)
	u.SetCreationTimestamp(metav1.NewTime(created))
	if releasedStatus != "" {
		u.Object["status"] = map[string]any{"conditions": []any{map[string]any{"type": konflux.ConditionReleased, "status": releasedStatus, "reason": reason}}}
	}
	return u
}

func TestResolveOutcome(t *testing.T) {
	now := time.Now()
	history := &unstructured.Unstructured{}
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "release-history", Namespace: "ns"},
		Data: map[string]string{"history.json": `[{"sha":"` + testSHA + `","component":"comp","release":"gc-ed","snapshot":"s0","status":"Succeeded"}]`}}
	obj, err := runtime.DefaultUnstructuredConverter.ToUnstructured(cm)
	require.NoError(t, err)
	history.Object = obj
	history.SetAPIVersion("v1")
	history.SetKind("ConfigMap")

	doubtful := releaseObject("doubt", "s1", "False", "Failed", now)
	doubtful.Object["status"].(map[string]any)["validation"] = map[string]any{"failedPostValidation": true}
	tests := []struct {
		name    string
		objects []runtime.Object
		facts   RunFacts
		want    RunOutcome
	}{
		{name: "release failed after post-validation: doubtful, not failed", facts: RunFacts{PipelineStatus: "Failed", CreateStatus: "Failed"},
			objects: []runtime.Object{doubtful}, want: RunOutcome{Status: outcome.Doubtful, Release: "doubt", Snapshot: "s1"}},
		{name: "preflight stopped on a doubtful Release: doubtful, not blocked", facts: RunFacts{PipelineStatus: "Failed", CreateStatus: "None"},
			objects: []runtime.Object{doubtful}, want: RunOutcome{Status: outcome.Doubtful, Release: "doubt", Snapshot: "s1"}},
		{name: "dry run", facts: RunFacts{DryRun: true, PipelineStatus: "Succeeded", CreateStatus: "Succeeded"}, want: RunOutcome{Status: outcome.DryRun}},
		{name: "gates blocked", facts: RunFacts{PipelineStatus: "Failed", CreateStatus: "None"}, want: RunOutcome{Status: outcome.Blocked}},
		{name: "released", facts: RunFacts{PipelineStatus: "Succeeded", CreateStatus: "Succeeded"},
			objects: []runtime.Object{releaseObject("old", "s1", "True", "Succeeded", now.Add(-time.Hour)), releaseObject("new", "s2", "True", "Succeeded", now)},
			want:    RunOutcome{Status: outcome.Succeeded, Release: "new", Snapshot: "s2"}},
		{name: "release failed", facts: RunFacts{PipelineStatus: "Failed", CreateStatus: "Failed"},
			objects: []runtime.Object{releaseObject("r", "s1", "False", "Failed", now)},
			want:    RunOutcome{Status: outcome.Failed, Release: "r", Snapshot: "s1"}},
		{name: "still running at the timeout", facts: RunFacts{PipelineStatus: "Failed", CreateStatus: "Failed"},
			objects: []runtime.Object{releaseObject("r", "s1", "False", "Progressing", now)},
			want:    RunOutcome{Status: outcome.TimedOut, Release: "r", Snapshot: "s1"}},
		{name: "created without waiting", facts: RunFacts{PipelineStatus: "Succeeded", CreateStatus: "Succeeded"},
			objects: []runtime.Object{releaseObject("r", "s1", "", "", now)},
			want:    RunOutcome{Status: outcome.Running, Release: "r", Snapshot: "s1"}},
		{name: "already released, Release still there", facts: RunFacts{PipelineStatus: "Completed", CreateStatus: "None"},
			objects: []runtime.Object{releaseObject("r", "s1", "True", "Succeeded", now)},
			want:    RunOutcome{Status: outcome.AlreadyReleased, Release: "r", Snapshot: "s1"}},
		{name: "already released, Release garbage-collected: from the history", facts: RunFacts{PipelineStatus: "Completed", CreateStatus: "None"},
			objects: []runtime.Object{history},
			want:    RunOutcome{Status: outcome.AlreadyReleased, Release: "gc-ed", Snapshot: "s0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			scheme := runtime.NewScheme()
			dyn := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(scheme, map[schema.GroupVersionResource]string{
				konflux.ReleasesResource:                "ReleaseList",
				{Version: "v1", Resource: "configmaps"}: "ConfigMapList",
			}, tt.objects...)
			c := &konflux.Client{Dynamic: dyn, Namespace: "ns"}
			got, err := ResolveOutcome(context.Background(), c, tt.facts, "comp", testSHA, "release-history")
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}
