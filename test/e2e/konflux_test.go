package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/release-to-prod/release-to-prod/pkg/actions/history"
	konfluxapi "github.com/release-to-prod/release-to-prod/pkg/clients/konflux"
	"github.com/release-to-prod/release-to-prod/pkg/gates/konflux"
	"github.com/release-to-prod/release-to-prod/pkg/step"
	"github.com/release-to-prod/release-to-prod/test/sandbox"
	"github.com/release-to-prod/release-to-prod/test/stepexec"
)

// kxEnv is the environment of a Konflux step for a tenant, plus overrides as key, value pairs.
func kxEnv(s *sandbox.Sandbox, tn *sandbox.Tenant, kv ...string) map[string]string {
	env := map[string]string{
		"COMMIT_SHA": tn.SHA, "COMPONENT": tn.Component, "NAMESPACE": tn.Namespace,
		"APPLICATION": tn.Application, "KUBECONFIG": s.Kubeconfig,
	}
	for i := 0; i+1 < len(kv); i += 2 {
		env[kv[i]] = kv[i+1]
	}
	return env
}

// kxSeed seeds a tenant in its own namespace.
func kxSeed(t testing.TB, s *sandbox.Sandbox, ns string, o sandbox.TenantOptions) *sandbox.Tenant {
	t.Helper()
	o.Namespace = ns
	if o.SHA == "" {
		o.SHA = sha
	}
	tn, err := s.SeedTenant(context.Background(), o)
	require.NoError(t, err)
	return tn
}

// kxSnapshot adds a Snapshot of the tenant's commit, created in a later second than the ones
// before it (creationTimestamp has one-second resolution; "newest" must be unambiguous).
func kxSnapshot(t *testing.T, s *sandbox.Sandbox, tn *sandbox.Tenant, name, event, tests, image string) {
	t.Helper()
	sandbox.WaitNextSecond()
	if image == "" {
		image = tn.Repository + "@" + tn.Digest
	}
	require.NoError(t, s.CreateSnapshot(context.Background(), sandbox.SnapshotOptions{
		Namespace: tn.Namespace, Name: name, Application: tn.Application, Component: tn.Component,
		SHA: tn.SHA, Image: image, EventType: event, Tests: tests,
	}))
}

func kxHistory(t *testing.T, s *sandbox.Sandbox, ns string, entries ...history.Entry) {
	t.Helper()
	b, err := json.Marshal(entries)
	require.NoError(t, err)
	require.NoError(t, s.ApplyManifests(context.Background(), ns, []byte(fmt.Sprintf(
		"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: release-history\ndata:\n  history.json: %q\n", b))))
}

// TestKonfluxPreflight runs the check-konflux binary against a real API server holding
// the Konflux CRDs (the project's, or upstream's with SANDBOX_UPSTREAM_CRDS).
func TestKonfluxPreflight(t *testing.T) {
	s := sandbox.New(t)
	ctx := context.Background()
	t.Logf("CRDs: %s", s.CRDs)

	happy := kxSeed(t, s, "happy-tenant", sandbox.TenantOptions{})

	// The seeded Snapshot passed; a newer one passed too, newer still one failed and a PR one.
	choice := kxSeed(t, s, "choice-tenant", sandbox.TenantOptions{})
	kxSnapshot(t, s, choice, "choice-newer-pass", "push", "True", "")
	kxSnapshot(t, s, choice, "choice-newest-fail", "push", "False", "")
	kxSnapshot(t, s, choice, "choice-pr", "pull_request", "True", "")
	invalid := "choice-newest-invalid"
	kxSnapshot(t, s, choice, invalid, "push", "True", "")
	require.NoError(t, s.SetSnapshotConditions(ctx, choice.Namespace, invalid,
		sandbox.Condition("AppStudioTestSucceeded", "True", "Passed", "all passed"),
		sandbox.Condition("AppStudioIntegrationStatus", "False", "Invalid", "the Snapshot's image was not found")))

	noSnap := kxSeed(t, s, "nosnap-tenant", sandbox.TenantOptions{NoSnapshot: true})
	prOnly := kxSeed(t, s, "pronly-tenant", sandbox.TenantOptions{NoSnapshot: true})
	kxSnapshot(t, s, prOnly, "pronly-pr", "pull_request", "True", "")
	failed := kxSeed(t, s, "failed-tenant", sandbox.TenantOptions{NoSnapshot: true})
	kxSnapshot(t, s, failed, "failed-snap", "push", "False", "")
	running := kxSeed(t, s, "running-tenant", sandbox.TenantOptions{NoSnapshot: true})
	kxSnapshot(t, s, running, "running-old-fail", "push", "False", "")
	kxSnapshot(t, s, running, "running-snap", "push", "Unknown", "")
	onlyInvalid := kxSeed(t, s, "invalid-tenant", sandbox.TenantOptions{NoSnapshot: true})
	kxSnapshot(t, s, onlyInvalid, "invalid-snap", "push", "True", "")
	require.NoError(t, s.SetSnapshotConditions(ctx, onlyInvalid.Namespace, "invalid-snap",
		sandbox.Condition("AppStudioTestSucceeded", "True", "Passed", "all passed"),
		sandbox.Condition("AppStudioIntegrationStatus", "False", "Invalid", "component image is not by digest")))

	// The tag re-pushed after the Snapshot: the image gate pins the new digest.
	moved := kxSeed(t, s, "moved-tenant", sandbox.TenantOptions{})
	newDigest, err := s.Registry.PushImage(ctx, moved.Repository, moved.SHA)
	require.NoError(t, err)
	require.NotEqual(t, moved.Digest, newDigest)
	gate := runStep(t, "check-image", kxEnv(s, moved))
	require.Equal(t, 0, gate.Code)
	require.Equal(t, newDigest, gate.Results["PINNED_DIGEST"])

	plans := kxSeed(t, s, "plans-tenant", sandbox.TenantOptions{})
	require.NoError(t, s.CreateReleasePlan(ctx, sandbox.ReleasePlanOptions{Namespace: plans.Namespace, Name: "unmatched-plan", Application: plans.Application, Matched: false}))
	require.NoError(t, s.CreateReleasePlan(ctx, sandbox.ReleasePlanOptions{Namespace: plans.Namespace, Name: "inactive-plan", Application: plans.Application, Matched: true, Active: false}))
	other := kxSeed(t, s, "other-app-tenant", sandbox.TenantOptions{})
	require.NoError(t, s.Create(ctx, sandbox.Components, other.Namespace, map[string]any{
		"metadata": map[string]any{"name": "stranger"},
		"spec": map[string]any{"componentName": "stranger", "application": "another-app", "containerImage": other.Repository,
			"source": map[string]any{"git": map[string]any{"url": "https://github.com/example/stranger"}}},
	}))
	noPlan := kxSeed(t, s, "noplan-tenant", sandbox.TenantOptions{})
	require.NoError(t, s.Dynamic.Resource(sandbox.ReleasePlans).Namespace(noPlan.Namespace).Delete(ctx, noPlan.ReleasePlan, deleteNow))

	// Released before: through a Release still in the namespace, or only in the history.
	byRelease := kxSeed(t, s, "released-tenant", sandbox.TenantOptions{})
	require.NoError(t, s.CreateRelease(ctx, sandbox.ReleaseOptions{Namespace: byRelease.Namespace, Name: "earlier-release",
		Snapshot: byRelease.Snapshot, ReleasePlan: byRelease.ReleasePlan, Released: "True",
		Labels: map[string]string{konfluxapi.LabelSHA: byRelease.SHA, konfluxapi.LabelComponent: byRelease.Component, konfluxapi.LabelReleasePlan: byRelease.ReleasePlan}}))
	byHistory := kxSeed(t, s, "history-tenant", sandbox.TenantOptions{})
	kxHistory(t, s, byHistory.Namespace,
		history.Entry{SHA: byHistory.SHA, Component: byHistory.Component, Release: "gc-ed-release", Status: "Succeeded", Finished: "2026-01-02T03:04:05Z"},
		history.Entry{SHA: "0000000000000000000000000000000000000000", Component: byHistory.Component, Release: "older-release", Status: "Succeeded"})
	failedBefore := kxSeed(t, s, "failed-before-tenant", sandbox.TenantOptions{})
	kxHistory(t, s, failedBefore.Namespace,
		history.Entry{SHA: failedBefore.SHA, Component: failedBefore.Component, Release: "failed-release", Status: "Failed"})

	tests := []struct {
		name     string
		env      map[string]string
		wantCode int
		outHas   []string
		outLacks []string
		results  map[string]string
	}{
		{name: "all good", env: kxEnv(s, happy, "PINNED_DIGEST", happy.Digest), wantCode: 0,
			outHas: []string{"✓ application aap-aa-main exists", "✓ component automation-analytics-backend-main belongs to application aap-aa-main",
				"✓ snapshot " + happy.Snapshot + " (push, tests passed", "✓ snapshot image " + happy.Repository + "@" + happy.Digest + " is the image the tag points at",
				"✓ release plan " + happy.ReleasePlan + " (matched to", "✓ not released yet"},
			results: map[string]string{"SNAPSHOT": happy.Snapshot, "RELEASE_PLAN": happy.ReleasePlan, "ALREADY_RELEASED": "false", "EXISTING_RELEASE": "", "LATEST_RELEASE": ""}},
		{name: "the newest test evidence wins: a newer failing push Snapshot blocks the older passing one", env: kxEnv(s, choice, "PINNED_DIGEST", choice.Digest), wantCode: 1,
			outHas: []string{"passed over Snapshot choice-newest-invalid: marked Invalid", "passed over Snapshot choice-pr: not a push event",
				"Snapshot choice-newest-fail, the newest of commit " + choice.SHA + ", failed its integration tests", "(older Snapshot choice-newer-pass passed)",
				"fix: find out why choice-newest-fail failed", "allow_older_snapshot=true"}},
		{name: "allow_older_snapshot releases the older passing Snapshot deliberately", env: kxEnv(s, choice, "PINNED_DIGEST", choice.Digest, "ALLOW_OLDER_SNAPSHOT", "true"), wantCode: 0,
			outHas: []string{"passed over Snapshot choice-newest-fail: tests failed", "! releasing Snapshot choice-newer-pass although newer Snapshot choice-newest-fail of this commit is not releasable (tests failed)",
				"✓ snapshot choice-newer-pass"},
			results: map[string]string{"SNAPSHOT": "choice-newer-pass"}},
		{name: "no snapshot: build not done", env: kxEnv(s, noSnap), wantCode: 1,
			outHas: []string{"✗ snapshot: none releasable among 0", "the build is not done", "likely cause: no push-event Snapshot of component", "on-push build PipelineRun"}},
		{name: "only a PR snapshot", env: kxEnv(s, prOnly), wantCode: 1,
			outHas: []string{"only 1 pull-request Snapshot(s), which are never released"}},
		{name: "tests failed", env: kxEnv(s, failed), wantCode: 1,
			outHas: []string{"Snapshot failed-snap: integration tests failed", "likely cause: the integration tests of Snapshot failed-snap failed"}},
		{name: "tests still running", env: kxEnv(s, running), wantCode: 1,
			outHas: []string{"Snapshot running-snap: integration tests still running", "fix: wait for the integration test PipelineRuns"}},
		{name: "invalid snapshot", env: kxEnv(s, onlyInvalid), wantCode: 1,
			outHas: []string{"Snapshot invalid-snap is marked Invalid: component image is not by digest", "never released"}},
		{name: "digest mismatch: tag re-pushed", env: kxEnv(s, moved, "PINNED_DIGEST", newDigest), wantCode: 1,
			outHas: []string{"✗ image digest: Snapshot has " + moved.Digest + ", the registry tag has " + newDigest,
				"the tag was re-pushed after the Snapshot was made"}},
		{name: "two release plan candidates", env: kxEnv(s, plans), wantCode: 1,
			outHas: []string{"3 ReleasePlans for application aap-aa-main: aap-aa-main-prod, inactive-plan, unmatched-plan", "fix: name the one to use with the release_plan param"}},
		{name: "release plan not matched", env: kxEnv(s, plans, "RELEASE_PLAN", "unmatched-plan"), wantCode: 1,
			outHas: []string{"✗ release plan unmatched-plan is not ready", "condition Matched is False (NotMatched)", "ReleasePlanAdmission"}},
		{name: "release plan admission inactive", env: kxEnv(s, plans, "RELEASE_PLAN", "inactive-plan"), wantCode: 1,
			outHas: []string{"ReleasePlanAdmission rhtap-releng-tenant/aap-aa-main-prod is not active", "fix: ask the owners of the managed namespace to activate"}},
		{name: "release plan named", env: kxEnv(s, plans, "RELEASE_PLAN", plans.ReleasePlan), wantCode: 0,
			results: map[string]string{"RELEASE_PLAN": plans.ReleasePlan}},
		{name: "no release plan", env: kxEnv(s, noPlan), wantCode: 1,
			outHas: []string{"no ReleasePlan for application aap-aa-main in namespace noplan-tenant"}},
		{name: "component of another application", env: kxEnv(s, other, "COMPONENT", "stranger"), wantCode: 1,
			outHas: []string{"✗ component stranger is not in application aap-aa-main", "set the application param to another-app"}},
		{name: "application missing", env: kxEnv(s, happy, "APPLICATION", "nope"), wantCode: 1,
			outHas: []string{"✗ application nope", "Application nope does not exist in namespace happy-tenant"}},
		{name: "already released: Release in the namespace", env: kxEnv(s, byRelease), wantCode: 0,
			outHas:  []string{"! already released: Release earlier-release"},
			results: map[string]string{"ALREADY_RELEASED": "true", "LATEST_RELEASE": "earlier-release"}},
		{name: "already released: only the history remembers", env: kxEnv(s, byHistory), wantCode: 0,
			outHas:  []string{"! already released: the history release-history records Release gc-ed-release", "latest release of automation-analytics-backend-main: gc-ed-release"},
			results: map[string]string{"ALREADY_RELEASED": "true", "LATEST_RELEASE": "gc-ed-release"}},
		{name: "a failed release does not count", env: kxEnv(s, failedBefore), wantCode: 0,
			outHas:  []string{"✓ not released yet"},
			results: map[string]string{"ALREADY_RELEASED": "false", "LATEST_RELEASE": "failed-release"}},
		{name: "short SHA", env: kxEnv(s, happy, "COMMIT_SHA", "a1b2c3d"), wantCode: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runStep(t, "check-konflux", tt.env)
			assert.Equal(t, tt.wantCode, r.Code)
			for _, want := range tt.outHas {
				assert.Contains(t, r.Output, want)
			}
			for k, v := range tt.results {
				assert.Equal(t, v, r.Results[k], "result %s", k)
			}
			if tt.wantCode != 0 {
				assert.Empty(t, r.Results, "a failed preflight writes no results")
			} else {
				assert.Len(t, r.Results, 5)
			}
		})
	}
}

// benchPreflight measures check-konflux in a namespace holding n Snapshots and n Releases
// of other commits of the same component (plus the tenant's own objects). Label selectors and
// pagination must keep the step's time within 2× and its memory flat from 100 objects to
// 10,000. Reported per op:
//   - ns/op and step-ns/op: the step binary run as a process, as Tekton runs it (process start,
//     kubeconfig, TLS, the parallel lookups);
//   - maxrss-bytes: the largest peak resident memory of those processes;
//   - inproc-ns/op and alloc-bytes/op: the same step run in-process (step.Run), which isolates
//     the lookups from the process start and counts every byte they allocate.
//
// The API server filters label selectors by scanning the namespace in its watch cache (about
// 1 µs per object here), so the lookups themselves grow with the namespace; the figures show by
// how much.
func benchPreflight(b *testing.B, n int) {
	s := sandbox.New(b)
	ctx := context.Background()
	tn := kxSeed(b, s, "bench-tenant", sandbox.TenantOptions{})
	other := func(i int) string { return fmt.Sprintf("%040x", i+1) }
	start := time.Now()
	require.NoError(b, s.CreateMany(ctx, sandbox.Snapshots, tn.Namespace, n, 16, func(i int) map[string]any {
		return map[string]any{
			"metadata": map[string]any{"name": fmt.Sprintf("noise-snap-%d", i), "labels": map[string]any{
				konfluxapi.LabelComponent: tn.Component, konfluxapi.LabelSHA: other(i), konfluxapi.LabelEventType: "push", konfluxapi.LabelApplication: tn.Application}},
			"spec": map[string]any{"application": tn.Application, "components": []any{map[string]any{"name": tn.Component, "containerImage": tn.Repository + "@" + tn.Digest}}},
		}
	}))
	require.NoError(b, s.CreateMany(ctx, sandbox.Releases, tn.Namespace, n, 16, func(i int) map[string]any {
		return map[string]any{
			"metadata": map[string]any{"name": fmt.Sprintf("noise-release-%d", i), "labels": map[string]any{
				konfluxapi.LabelComponent: tn.Component, konfluxapi.LabelSHA: other(i), konfluxapi.LabelReleasePlan: tn.ReleasePlan}},
			"spec": map[string]any{"snapshot": fmt.Sprintf("noise-snap-%d", i), "releasePlan": tn.ReleasePlan},
		}
	}))
	b.Logf("created %d Snapshots and %d Releases in %s", n, n, time.Since(start).Round(time.Millisecond))

	bin := stepexec.Build(b, "check-konflux")
	results := b.TempDir()
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + b.TempDir(), "RESULTS_DIR=" + results,
		"COMMIT_SHA=" + tn.SHA, "NAMESPACE=" + tn.Namespace, "KUBECONFIG=" + s.Kubeconfig, "PINNED_DIGEST=" + tn.Digest}
	runProcess := func(name string, arg ...string) {
		cmd := exec.Command(name, arg...)
		cmd.Env = env
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("check-konflux: %v\n%s", err, out)
		}
	}
	// The peak RSS is measured through the launcher, in runs of their own so that its start
	// is not in the timing: the process's own ru_maxrss would start from this benchmark's
	// size (the kernel carries the high water mark across execve), not the step's.
	launcher, rssFile := stepexec.BuildLauncher(b), filepath.Join(b.TempDir(), "peak-rss")
	var maxRSS int64
	measureRSS := func() {
		for range 3 {
			runProcess(launcher, rssFile, bin)
			rss, err := os.ReadFile(rssFile)
			if err != nil {
				b.Fatal(err)
			}
			n, err := strconv.ParseInt(string(rss), 10, 64)
			if err != nil {
				b.Fatalf("peak-rss wrote %q: %v", rss, err)
			}
			maxRSS = max(maxRSS, n)
		}
	}
	args := []string{"--commit-sha=" + tn.SHA, "--namespace=" + tn.Namespace, "--kubeconfig=" + s.Kubeconfig,
		"--pinned-digest=" + tn.Digest, "--results-dir=" + results}
	runInProcess := func() {
		if code := step.Run(ctx, "check-konflux", args, io.Discard, &konflux.Config{}, konflux.Run); code != 0 {
			b.Fatalf("check-konflux exited %d", code)
		}
	}
	runProcess(bin) // warm the API server's watch cache for these resources
	measureRSS()
	const inProcessRuns = 30
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	began := time.Now()
	for range inProcessRuns {
		runInProcess()
	}
	inProcess := time.Since(began)
	runtime.ReadMemStats(&after)

	b.ResetTimer()
	began = time.Now()
	ops := 0
	for b.Loop() {
		runProcess(bin)
		ops++
	}
	elapsed := time.Since(began)
	b.StopTimer()
	b.ReportMetric(float64(elapsed.Nanoseconds())/float64(ops), "step-ns/op")
	b.ReportMetric(float64(maxRSS), "maxrss-bytes")
	b.ReportMetric(float64(inProcess.Nanoseconds())/inProcessRuns, "inproc-ns/op")
	b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/inProcessRuns, "alloc-bytes/op")
	b.ReportMetric(float64(n), "objects")
}

func BenchmarkPreflight100(b *testing.B)   { benchPreflight(b, 100) }
func BenchmarkPreflight10000(b *testing.B) { benchPreflight(b, 10_000) }

var deleteNow = metav1.DeleteOptions{}
