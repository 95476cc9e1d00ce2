package konflux

import (
	"bytes"
	"context"
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
	dynamicfake "k8s.io/client-go/dynamic/fake"

	"github.com/release-to-prod/release-to-prod/pkg/actions/history"
	konfluxapi "github.com/release-to-prod/release-to-prod/pkg/clients/konflux"
	"github.com/release-to-prod/release-to-prod/pkg/step"
	"github.com/release-to-prod/release-to-prod/pkg/step/failure"
)

// The gate logic of check-konflux against client-go's fake dynamic client: every branch of
// "already released", out of order, and waiting on a running Release, without an API server.

const (
	ns      = "tenant"
	app     = "app"
	comp    = "comp"
	plan    = "app-prod"
	ourSHA  = "1111111111111111111111111111111111111111"
	newSHA  = "2222222222222222222222222222222222222222"
	oldSHA  = "0000000000000000000000000000000000000000"
	digestA = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	digestB = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	digestC = "sha256:cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
)

var epoch = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

func obj(resource, name string, m map[string]any) *unstructured.Unstructured {
	kinds := map[string]string{"applications": "Application", "components": "Component", "snapshots": "Snapshot", "releaseplans": "ReleasePlan", "releases": "Release", "configmaps": "ConfigMap"}
	m["kind"] = kinds[resource]
	m["apiVersion"] = konfluxapi.Group + "/" + konfluxapi.Version
	if resource == "configmaps" {
		m["apiVersion"] = "v1"
	}
	md, _ := m["metadata"].(map[string]any)
	if md == nil {
		md = map[string]any{}
	}
	md["name"], md["namespace"] = name, ns
	m["metadata"] = md
	return &unstructured.Unstructured{Object: m}
}

func cond(typ, status, reason, msg string) any {
	return map[string]any{"type": typ, "status": status, "reason": reason, "message": msg}
}

// snapshotObj is a push Snapshot of comp at sha, tests passed, built at epoch+builtMin minutes,
// with other components appended as name=image@revision.
func snapshotObj(name, sha, digest string, builtMin int, others ...[3]string) *unstructured.Unstructured {
	comps := []any{map[string]any{"name": comp, "containerImage": "reg/comp@" + digest, "source": map[string]any{"git": map[string]any{"revision": sha}}}}
	for _, o := range others {
		comps = append(comps, map[string]any{"name": o[0], "containerImage": o[1], "source": map[string]any{"git": map[string]any{"revision": o[2]}}})
	}
	return obj("snapshots", name, map[string]any{
		"metadata": map[string]any{
			"labels":      map[string]any{konfluxapi.LabelComponent: comp, konfluxapi.LabelSHA: sha, konfluxapi.LabelEventType: "push"},
			"annotations": map[string]any{konfluxapi.AnnotationBuildStartTime: strconv.FormatInt(epoch.Add(time.Duration(builtMin)*time.Minute).Unix(), 10)},
		},
		"spec":   map[string]any{"application": app, "components": comps},
		"status": map[string]any{"conditions": []any{cond(konfluxapi.ConditionTestSucceeded, "True", "Passed", "")}},
	})
}

// releaseObj is a Release of snapshot (of comp at sha) through plan with the given conditions.
func releaseObj(name, snapshot, sha string, createdMin int, status map[string]any) *unstructured.Unstructured {
	u := obj("releases", name, map[string]any{
		"metadata": map[string]any{"labels": map[string]any{konfluxapi.LabelReleasePlan: plan, konfluxapi.LabelSnapshot: snapshot, konfluxapi.LabelSHA: sha, konfluxapi.LabelComponent: comp}},
		"spec":     map[string]any{"snapshot": snapshot, "releasePlan": plan},
	})
	u.SetCreationTimestamp(metav1Time(epoch.Add(time.Duration(createdMin) * time.Minute)))
	if status != nil {
		u.Object["status"] = status
	}
	return u
}

func relStatus(status, reason string, more ...any) map[string]any {
	return map[string]any{"conditions": append([]any{cond(konfluxapi.ConditionReleased, status, reason, "")}, more...)}
}

func world(extra ...runtime.Object) []runtime.Object {
	return append([]runtime.Object{
		obj("applications", app, map[string]any{"spec": map[string]any{"displayName": app}}),
		obj("components", comp, map[string]any{"spec": map[string]any{"application": app, "containerImage": "reg/comp"}}),
		obj("releaseplans", plan, map[string]any{
			"metadata": map[string]any{"labels": map[string]any{konfluxapi.LabelAutoRelease: "false"}},
			"spec":     map[string]any{"application": app, "target": "managed"},
			"status": map[string]any{"conditions": []any{cond(konfluxapi.ConditionMatched, "True", "Matched", "")},
				"releasePlanAdmission": map[string]any{"name": "managed/app-rpa", "active": true}},
		}),
	}, extra...)
}

func fakeClient(objects ...runtime.Object) *konfluxapi.Client {
	dyn := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), map[schema.GroupVersionResource]string{
		konfluxapi.ReleasesResource:              "ReleaseList",
		konfluxapi.SnapshotsResource:             "SnapshotList",
		konfluxapi.ReleasePlansResource:          "ReleasePlanList",
		konfluxapi.ApplicationsResource:          "ApplicationList",
		konfluxapi.ComponentsResource:            "ComponentList",
		{Version: "v1", Resource: "configmaps"}:  "ConfigMapList",
		konfluxapi.ReleasePlanAdmissionsResource: "ReleasePlanAdmissionList",
	}, objects...)
	return &konfluxapi.Client{Dynamic: dyn, Namespace: ns}
}

func TestCheck(t *testing.T) {
	ours := snapshotObj("snap-ours", ourSHA, digestA, 10)
	newer := snapshotObj("snap-newer", newSHA, digestB, 20)
	older := snapshotObj("snap-older", oldSHA, digestC, 0)
	// lib's own build: it holds comp at the older commit and lib at a newer one.
	libBuild := snapshotObj("snap-lib-new", oldSHA, digestC, 30, [3]string{"lib", "reg/lib@" + digestC, "lib-new"})
	libBuild.SetLabels(map[string]string{konfluxapi.LabelComponent: "lib", konfluxapi.LabelSHA: "lib-new", konfluxapi.LabelEventType: "push"})
	emptyApp := snapshotObj("snap-ours", ourSHA, digestA, 10)
	delete(emptyApp.Object["spec"].(map[string]any), "application")
	postValidation := relStatus("False", "Failed", cond(konfluxapi.ConditionManagedPipeline, "True", "Skipped", ""))
	postValidation["validation"] = map[string]any{"failedPostValidation": true}
	postValidation["managedPipelineAttempts"] = []any{map[string]any{"pipelineRun": "managed/run-1", "status": "Progressing"}}
	tests := []struct {
		name            string
		objects         []runtime.Object
		allowOutOfOrder bool
		wantErr         failure.ID
		already         bool
		existing        string
		outHas          []string
	}{
		{name: "nothing released: in order", objects: world(ours),
			outHas: []string{"✓ not released yet", "✓ in order: no newer build of comp"}},
		{name: "already released by a Release that succeeded", objects: world(ours, releaseObj("r-ours", "snap-ours", ourSHA, 30, relStatus("True", "Succeeded"))),
			already: true, outHas: []string{"! already released: Release r-ours"}},
		{name: "already released: managed pipeline succeeded, final failed", objects: world(ours, releaseObj("r-ours", "snap-ours", ourSHA, 30,
			relStatus("False", "Failed", cond(konfluxapi.ConditionManagedPipeline, "True", "Succeeded", ""), cond(konfluxapi.ConditionFinalPipeline, "False", "Failed", "jira")))),
			already: true, outHas: []string{"so the commit is in production"}},
		{name: "a Release of the commit may be in production: stop, exit 4", objects: world(ours, releaseObj("r-ours", "snap-ours", ourSHA, 30, postValidation)),
			wantErr: failure.ReleaseMayBeInProduction, outHas: []string{"✗ already released? Release r-ours", "failedPostValidation"}},
		{name: "a Release of the commit is running: wait on it", objects: world(ours, releaseObj("r-ours", "snap-ours", ourSHA, 30, relStatus("False", "Progressing"))),
			existing: "r-ours", outHas: []string{"✓ Release r-ours of Snapshot snap-ours", "is in progress"}},
		{name: "a failed Release does not block", objects: world(ours, releaseObj("r-ours", "snap-ours", ourSHA, 30, relStatus("False", "Failed"))),
			outHas: []string{"Release r-ours of Snapshot snap-ours (made by someone else) failed", "✓ not released yet"}},
		{name: "a newer commit released by a person: out of order", objects: world(ours, newer, releaseObj("janes", "snap-newer", newSHA, 40, relStatus("True", "Succeeded"))),
			wantErr: failure.NewerCommitReleased, outHas: []string{"✗ out of order: a newer commit of comp (222222222222) is in production or on its way: Release janes succeeded"}},
		{name: "a newer commit still releasing: out of order", objects: world(ours, newer, releaseObj("auto", "snap-newer", newSHA, 40, relStatus("False", "Progressing"))),
			wantErr: failure.NewerCommitReleased, outHas: []string{"Release auto still running"}},
		{name: "a newer commit whose Release failed: in order", objects: world(ours, newer, releaseObj("bad", "snap-newer", newSHA, 40, relStatus("False", "Failed"))),
			outHas: []string{"✓ in order"}},
		{name: "allow_out_of_order releases anyway and says so", objects: world(ours, newer, releaseObj("janes", "snap-newer", newSHA, 40, relStatus("True", "Succeeded"))),
			allowOutOfOrder: true, outHas: []string{"! out of order: commit 222222222222 of comp", "ALLOW_OUT_OF_ORDER=true"}},
		{name: "an older commit in production: in order", objects: world(ours, older, releaseObj("old", "snap-older", oldSHA, 5, relStatus("True", "Succeeded"))),
			outHas: []string{"✓ in order", "✓ other components: none older than in Snapshot snap-older of Release old"}},
		{name: "other components would go back", objects: world(
			snapshotObj("snap-ours", ourSHA, digestA, 10, [3]string{"lib", "reg/lib@" + digestB, "lib-old"}),
			older, libBuild, releaseObj("lib-release", "snap-lib-new", "lib-new", 40, relStatus("True", "Succeeded"))),
			wantErr: failure.SnapshotGoesBack, outHas: []string{"✓ in order", "✗ other components would go back: Snapshot snap-ours holds older images than Snapshot snap-lib-new of Release lib-release: lib lib@sha256:cccccccccccc… → lib@sha256:bbbbbbbbbbbb…"}},
		{name: "other components going back, allowed", objects: world(
			snapshotObj("snap-ours", ourSHA, digestA, 10, [3]string{"lib", "reg/lib@" + digestB, "lib-old"}),
			older, libBuild, releaseObj("lib-release", "snap-lib-new", "lib-new", 40, relStatus("True", "Succeeded"))),
			allowOutOfOrder: true, outHas: []string{"! Snapshot snap-ours takes components back from Snapshot snap-lib-new", "ALLOW_OUT_OF_ORDER=true"}},
		{name: "a Snapshot with an empty spec.application is passed over", objects: world(emptyApp),
			wantErr: failure.SnapshotMissing, outHas: []string{"passed over Snapshot snap-ours: its spec.application is empty"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			s := step.NewStep("check-konflux", &out, "text", t.TempDir())
			cfg := &Config{Subject: step.Subject{Commit: step.Commit{CommitSHA: ourSHA}, Target: step.Target{Tenant: step.Tenant{Namespace: ns}, Component: comp, Application: app}},
				ReleaseOptions: konfluxapi.ReleaseOptions{AutoRelease: "block"}, Location: history.Location{HistoryConfigMap: "release-history"}}
			st := settings{sha: ourSHA, ReleaseChoices: konfluxapi.ReleaseChoices{Owner: konfluxapi.Owner{Application: app}, AllowOutOfOrder: tt.allowOutOfOrder}}
			p, err := check(context.Background(), fakeClient(tt.objects...), s, cfg, st)
			t.Log(out.String())
			for _, h := range tt.outHas {
				assert.Contains(t, out.String(), h)
			}
			if tt.wantErr != "" {
				a, ok := failure.Explain(err)
				require.True(t, ok, "a known failure: %v", err)
				assert.Equal(t, tt.wantErr, a.ID)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.already, p.AlreadyReleased != "")
			assert.Equal(t, tt.existing, p.Existing)
			assert.Equal(t, "snap-ours", p.Snapshot.Name)
			assert.False(t, strings.Contains(out.String(), "✗"), "no ✗ line")
		})
	}
}

func metav1Time(t time.Time) metav1.Time { return metav1.NewTime(t) }
