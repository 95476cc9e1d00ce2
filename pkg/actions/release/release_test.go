package release

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"

	"github.com/release-to-prod/release-to-prod/pkg/clients/konflux"
	"github.com/release-to-prod/release-to-prod/pkg/step"
	"github.com/release-to-prod/release-to-prod/pkg/step/failure"
	"github.com/release-to-prod/release-to-prod/pkg/step/outcome"
)

// The create-release logic against client-go's fake dynamic client: what it does with the
// commit's existing Releases (in production, in doubt, running, failed), the order check right
// before the create, and observe mode's stop on integration-service's decision.

const (
	ns     = "tenant"
	comp   = "comp"
	plan   = "app-prod"
	ourSHA = "1111111111111111111111111111111111111111"
	newSHA = "2222222222222222222222222222222222222222"
)

var epoch = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

func cond(typ, status, reason, msg string) any {
	return map[string]any{"type": typ, "status": status, "reason": reason, "message": msg}
}

func snapshotObj(name, sha, digest string, builtMin int, conds ...any) *unstructured.Unstructured {
	if len(conds) == 0 {
		conds = []any{cond(konflux.ConditionTestSucceeded, "True", "Passed", "")}
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": konflux.Group + "/" + konflux.Version, "kind": "Snapshot",
		"metadata": map[string]any{"name": name, "namespace": ns,
			"labels":      map[string]any{konflux.LabelComponent: comp, konflux.LabelSHA: sha, konflux.LabelEventType: "push"},
			"annotations": map[string]any{konflux.AnnotationBuildStartTime: strconv.FormatInt(epoch.Add(time.Duration(builtMin)*time.Minute).Unix(), 10)}},
		"spec": map[string]any{"application": "app", "components": []any{map[string]any{"name": comp, "containerImage": "reg/comp@sha256:" + digest,
			"source": map[string]any{"git": map[string]any{"revision": sha}}}}},
		"status": map[string]any{"conditions": conds},
	}}
}

func releaseObj(name, snapshot, sha string, createdMin int, status map[string]any) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": konflux.Group + "/" + konflux.Version, "kind": "Release",
		"metadata": map[string]any{"name": name, "namespace": ns,
			"labels": map[string]any{konflux.LabelReleasePlan: plan, konflux.LabelSnapshot: snapshot, konflux.LabelSHA: sha, konflux.LabelComponent: comp}},
		"spec": map[string]any{"snapshot": snapshot, "releasePlan": plan},
	}}
	u.SetCreationTimestamp(metav1.NewTime(epoch.Add(time.Duration(createdMin) * time.Minute)))
	if status != nil {
		u.Object["status"] = status
	}
	return u
}

func relStatus(status, reason string, more ...any) map[string]any {
	return map[string]any{"conditions": append([]any{cond(konflux.ConditionReleased, status, reason, "")}, more...)}
}

func fakeClient(objects ...runtime.Object) *konflux.Client {
	dyn := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), map[schema.GroupVersionResource]string{
		konflux.ReleasesResource:  "ReleaseList",
		konflux.SnapshotsResource: "SnapshotList",
	}, objects...)
	return &konflux.Client{Dynamic: dyn, Namespace: ns}
}

func TestRelease(t *testing.T) {
	a, b := "aa"+string(bytes.Repeat([]byte("a"), 62)), "bb"+string(bytes.Repeat([]byte("b"), 62))
	ours := snapshotObj("snap-ours", ourSHA, a, 10)
	newer := snapshotObj("snap-newer", newSHA, b, 20)
	doubt := relStatus("False", "Failed", cond(konflux.ConditionTenantCollectors, "False", "Failed", "collector failed"))
	first := konflux.ReleaseNameAttempt(comp, ourSHA, plan, 1)
	second := konflux.ReleaseNameAttempt(comp, ourSHA, plan, 2)
	tests := []struct {
		name            string
		objects         []runtime.Object
		observe         bool
		allowOutOfOrder bool
		wantErr         failure.ID
		wantStatus      outcome.Status
		wantName        string
		wantReleases    int
		outHas          []string
	}{
		{name: "nothing yet: created (not awaited)", objects: []runtime.Object{ours},
			wantStatus: outcome.Created, wantName: first, wantReleases: 1, outHas: []string{"✓ in order", "✓ created Release " + first}},
		{name: "in production already: reported, nothing created", objects: []runtime.Object{ours, releaseObj("r1", "snap-ours", ourSHA, 30, relStatus("True", "Succeeded"))},
			wantStatus: outcome.AlreadyReleased, wantName: "r1", wantReleases: 1, outHas: []string{"✓ already released by r1"}},
		{name: "may be in production: stops, Doubtful, nothing created", objects: []runtime.Object{ours, releaseObj("r1", "snap-ours", ourSHA, 30, doubt)},
			wantErr: failure.ReleaseMayBeInProduction, wantStatus: outcome.Doubtful, wantName: "r1", wantReleases: 1, outHas: []string{"✗ Release r1 (Snapshot snap-ours, made by someone else) may be in production: its tenant collectors pipeline failed"}},
		{name: "running: followed, nothing created", objects: []runtime.Object{ours, releaseObj("r1", "snap-ours", ourSHA, 30, relStatus("False", "Progressing"))},
			wantStatus: outcome.Running, wantName: "r1", wantReleases: 1, outHas: []string{"is in progress", "not creating another"}},
		{name: "failed before: the next attempt is created", objects: []runtime.Object{ours, releaseObj(first, "snap-ours", ourSHA, 30, relStatus("False", "Failed"))},
			wantStatus: outcome.Created, wantName: second, wantReleases: 2, outHas: []string{"failed: a new Release is created", "✓ created Release " + second}},
		{name: "a newer commit released since the preflight: blocked before the create", objects: []runtime.Object{ours, newer, releaseObj("newer-r", "snap-newer", newSHA, 30, relStatus("True", "Succeeded"))},
			wantErr: failure.NewerCommitReleased, wantStatus: outcome.Blocked, wantReleases: 1, outHas: []string{"✗ out of order: a newer commit of comp (222222222222) is in production or on its way: Release newer-r succeeded"}},
		{name: "a newer commit's Release running: blocked before the create", objects: []runtime.Object{ours, newer, releaseObj("newer-r", "snap-newer", newSHA, 30, relStatus("False", "Progressing"))},
			wantErr: failure.NewerCommitReleased, wantStatus: outcome.Blocked, wantReleases: 1, outHas: []string{"Release newer-r still running"}},
		{name: "allow_out_of_order: created anyway, said so", objects: []runtime.Object{ours, newer, releaseObj("newer-r", "snap-newer", newSHA, 30, relStatus("True", "Succeeded"))},
			allowOutOfOrder: true, wantStatus: outcome.Created, wantName: first, wantReleases: 2, outHas: []string{"! out of order: commit 222222222222", "ALLOW_OUT_OF_ORDER=true"}},
		{name: "observe: integration-service released a newer Snapshot: stops at once", observe: true,
			objects: []runtime.Object{snapshotObj("snap-ours", ourSHA, a, 10, cond(konflux.ConditionTestSucceeded, "True", "Passed", ""),
				cond(konflux.ConditionAutoReleased, "True", "AutoReleased", "Released in newer Snapshot"))},
			wantErr: failure.AutoReleaseNotCreated, outHas: []string{"✗ integration-service decided not to release Snapshot snap-ours through app-prod: Released in newer Snapshot"}},
		{name: "observe: the auto-release appears in doubt", observe: true,
			objects: []runtime.Object{ours, releaseObj("auto-1", "snap-ours", ourSHA, 30, doubt)},
			wantErr: failure.ReleaseMayBeInProduction, wantStatus: outcome.Doubtful, wantName: "auto-1", wantReleases: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			dir := t.TempDir()
			kc := fakeClient(tt.objects...)
			cfg := &Config{Subject: step.Subject{Commit: step.Commit{CommitSHA: ourSHA}, Target: step.Target{Tenant: step.Tenant{Namespace: ns}, Component: comp, Application: "app"}},
				Snapshot: "snap-ours", ReleasePlan: plan,
				Timeout: time.Minute, ProgressInterval: time.Second}
			r := &run{s: step.NewStep("create-release", &out, "text", dir), cfg: cfg, kc: kc,
				st:  settings{ReleaseChoices: konflux.ReleaseChoices{Observe: tt.observe, AllowOutOfOrder: tt.allowOutOfOrder}},
				req: konflux.ReleaseRequest{Component: comp, Application: "app", SHA: ourSHA, Snapshot: "snap-ours", ReleasePlan: plan, Attempt: 1}}
			start := time.Now()
			err := r.release(context.Background())
			t.Log(out.String())
			assert.Less(t, time.Since(start), 30*time.Second, "no wait: WAIT is false, observe stops on the decision")
			if tt.wantErr != "" {
				a, ok := failure.Explain(err)
				require.True(t, ok, "a known failure: %v", err)
				assert.Equal(t, tt.wantErr, a.ID)
			} else {
				require.NoError(t, err)
			}
			assert.Equal(t, tt.wantStatus, result(t, dir, "RELEASE_STATUS"))
			assert.Equal(t, tt.wantName, result(t, dir, "RELEASE_NAME"))
			list, err := kc.Dynamic.Resource(konflux.ReleasesResource).Namespace(ns).List(context.Background(), metav1.ListOptions{})
			require.NoError(t, err)
			assert.Len(t, list.Items, tt.wantReleases)
			for _, h := range tt.outHas {
				assert.Contains(t, out.String(), h)
			}
		})
	}
}

func result(t *testing.T, dir, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if os.IsNotExist(err) {
		return ""
	}
	require.NoError(t, err)
	return string(b)
}
