package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/release-to-prod/release-to-prod/pkg/clients/konflux"
	"github.com/release-to-prod/release-to-prod/test/sandbox"
)

// The Konflux behaviours of issue 13, each shown at the step level against the sandbox's real API
// server (with the upstream CRDs when SANDBOX_UPSTREAM_CRDS is set). The tests play the Konflux
// services that do not run in the sandbox — the release service's webhook labels (through
// sandbox.CreateRelease) and status updates, integration-service's auto-release — by writing
// objects exactly as those services do.

// kxReleases lists the Releases of a namespace.
func kxReleases(t *testing.T, s *sandbox.Sandbox, ns string) []unstructured.Unstructured {
	t.Helper()
	list, err := s.Dynamic.Resource(sandbox.Releases).Namespace(ns).List(context.Background(), metav1.ListOptions{})
	require.NoError(t, err)
	return list.Items
}

// kxStart starts a step in the background.
func kxStart(t *testing.T, name string, env map[string]string) *kxProc {
	t.Helper()
	p := kxCommand(t, name, env)
	require.NoError(t, p.cmd.Start())
	return p
}

func kxDone(t *testing.T, p *kxProc) Run {
	t.Helper()
	r, err := p.wait()
	require.NoError(t, err)
	t.Logf("exited %d:\n%s", r.Code, r.Output)
	return r
}

// TestReleaseOfSnapshotWhoeverMadeIt: a Release a person created for the commit's Snapshot (their
// own name, only the labels the release service's webhook adds) is found by the preflight and
// waited on by create-release, which reports its outcome and creates nothing.
func TestReleaseOfSnapshotWhoeverMadeIt(t *testing.T) {
	s := sandbox.New(t)
	ctx := context.Background()
	tn := kxSeed(t, s, "someone-else-tenant", sandbox.TenantOptions{})
	require.NoError(t, s.CreateRelease(ctx, sandbox.ReleaseOptions{Namespace: tn.Namespace, Name: "janes-release", Snapshot: tn.Snapshot,
		ReleasePlan: tn.ReleasePlan, Labels: map[string]string{"release.appstudio.openshift.io/author": "jane"}}))

	pre := runStep(t, "check-konflux", kxEnv(s, tn))
	require.Equal(t, 0, pre.Code)
	assert.Equal(t, "false", pre.Results["ALREADY_RELEASED"])
	assert.Equal(t, "janes-release", pre.Results["EXISTING_RELEASE"])
	assert.Contains(t, pre.Output, "✓ Release janes-release of Snapshot "+tn.Snapshot+" (made by jane) is in progress")

	p := kxStart(t, "create-release", kxReleaseEnv(s, tn, "EXISTING_RELEASE", pre.Results["EXISTING_RELEASE"], "PROGRESS_INTERVAL", "1s", "TIMEOUT", "2m"))
	kxPoll(t, "a progress line", time.Minute, func() bool { return strings.Contains(p.out.String(), "Release janes-release: ") })
	require.NoError(t, s.SetStatus(ctx, sandbox.Releases, tn.Namespace, "janes-release", sandbox.ReleaseStatus("True", "")))
	r := kxDone(t, p)
	assert.Equal(t, 0, r.Code)
	assert.Equal(t, "Succeeded", r.Results["RELEASE_STATUS"])
	assert.Equal(t, "janes-release", r.Results["RELEASE_NAME"])
	assert.Contains(t, r.Output, "not creating another")
	assert.Len(t, kxReleases(t, s, tn.Namespace), 1, "no second Release")

	// Now it is in production: the preflight says so, create-release creates nothing.
	pre = runStep(t, "check-konflux", kxEnv(s, tn))
	require.Equal(t, 0, pre.Code)
	assert.Equal(t, "true", pre.Results["ALREADY_RELEASED"])
	r = runStep(t, "create-release", kxReleaseEnv(s, tn))
	assert.Equal(t, "AlreadyReleased", r.Results["RELEASE_STATUS"])
	assert.Len(t, kxReleases(t, s, tn.Namespace), 1)
}

// TestRaceThenReleaseFails: two runs for one commit at once make one Release; when it fails,
// neither reports success, and the history records the failure.
func TestRaceThenReleaseFails(t *testing.T) {
	s := sandbox.New(t)
	ctx := context.Background()
	tn := kxSeed(t, s, "race-fail-tenant", sandbox.TenantOptions{})
	env := kxReleaseEnv(s, tn, "PROGRESS_INTERVAL", "1s", "TIMEOUT", "2m")
	a, b := kxStart(t, "create-release", env), kxStart(t, "create-release", env)
	kxPoll(t, "both runs waiting", time.Minute, func() bool {
		return strings.Contains(a.out.String(), "(elapsed ") && strings.Contains(b.out.String(), "(elapsed ")
	})
	rels := kxReleases(t, s, tn.Namespace)
	require.Len(t, rels, 1, "exactly one Release")
	name := rels[0].GetName()
	st := sandbox.ReleaseStatus("False", "Release processing failed on managed pipelineRun")
	st["conditions"] = append(st["conditions"].([]any), sandbox.Condition("ManagedPipelineProcessed", "False", "Failed", "task push-snapshot failed"))
	require.NoError(t, s.SetStatus(ctx, sandbox.Releases, tn.Namespace, name, st))
	for _, p := range []*kxProc{a, b} {
		r := kxDone(t, p)
		assert.Equal(t, 1, r.Code)
		assert.Equal(t, "Failed", r.Results["RELEASE_STATUS"])
		assert.Equal(t, name, r.Results["RELEASE_NAME"])
		assert.NotContains(t, r.Output, "already released")
		assert.Contains(t, r.Output, "a Release that failed does not block a new one")
	}
	h := runStep(t, "record-history", kxEnv(s, tn, "PIPELINE_STATUS", "Failed", "CREATE_STATUS", "Failed", "SNAPSHOT", tn.Snapshot))
	require.Equal(t, 0, h.Code)
	assert.Equal(t, "Failed", h.Results["RELEASE_STATUS"])
	assert.Equal(t, name, h.Results["RELEASE_NAME"])
}

// TestFinalPipelineFailsAfterProduction: the managed pipeline succeeded, the final one failed.
// The advice never says to release again, and the commit counts as released from then on.
func TestFinalPipelineFailsAfterProduction(t *testing.T) {
	s := sandbox.New(t)
	ctx := context.Background()
	tn := kxSeed(t, s, "final-fail-tenant", sandbox.TenantOptions{})
	name := konflux.ReleaseName(tn.Component, tn.SHA, tn.ReleasePlan)
	p := kxStart(t, "create-release", kxReleaseEnv(s, tn, "PROGRESS_INTERVAL", "1s", "TIMEOUT", "2m"))
	kxPoll(t, "a progress line", time.Minute, func() bool { return strings.Contains(p.out.String(), "(elapsed ") })
	st := sandbox.ReleaseStatus("False", "Release processing failed on final pipelineRun")
	st["conditions"] = append(st["conditions"].([]any),
		sandbox.Condition("Validated", "True", "Succeeded", ""),
		sandbox.Condition("ManagedPipelineProcessed", "True", "Succeeded", ""),
		sandbox.Condition("FinalPipelineProcessed", "False", "Failed", "task update-jira failed: 502 from the Jira API"))
	require.NoError(t, s.SetStatus(ctx, sandbox.Releases, tn.Namespace, name, st))
	r := kxDone(t, p)
	assert.Equal(t, 1, r.Code, "the run shows the failure")
	assert.Equal(t, "Succeeded", r.Results["RELEASE_STATUS"], "the content is in production")
	assert.Contains(t, r.Output, "the managed pipeline of Release "+name+" succeeded, so the content is in production")
	assert.Contains(t, r.Output, "update-jira failed")
	_, fix, _ := strings.Cut(r.Output, "fix: ")
	assert.Contains(t, fix, "do not release again")
	assert.NotContains(t, fix, "re-run")
	assert.NotContains(t, fix, "delete")

	pre := runStep(t, "check-konflux", kxEnv(s, tn))
	require.Equal(t, 0, pre.Code)
	assert.Equal(t, "true", pre.Results["ALREADY_RELEASED"], "never released twice")
	assert.Contains(t, pre.Output, "so the commit is in production")
}

// TestAutoReleasePlan: a ReleasePlan without the auto-release label blocks by default; in
// observe mode the gates pass, create-release creates nothing and reports the Release
// integration-service creates; when none comes, it says why.
func TestAutoReleasePlan(t *testing.T) {
	s := sandbox.New(t)
	ctx := context.Background()
	tn := kxSeed(t, s, "auto-tenant", sandbox.TenantOptions{})
	require.NoError(t, s.Dynamic.Resource(sandbox.ReleasePlans).Namespace(tn.Namespace).Delete(ctx, tn.ReleasePlan, deleteNow))
	require.NoError(t, s.CreateReleasePlan(ctx, sandbox.ReleasePlanOptions{Namespace: tn.Namespace, Name: tn.ReleasePlan, Application: tn.Application,
		Matched: true, Active: true, AutoRelease: "absent"}))

	r := runStep(t, "check-konflux", kxEnv(s, tn))
	assert.Equal(t, 1, r.Code)
	assert.Contains(t, r.Output, "✗ release plan "+tn.ReleasePlan+" auto-releases (it has no release.appstudio.openshift.io/auto-release label, and auto-release is on by default)")
	assert.Contains(t, r.Output, "fix: let these gates decide: kubectl label releaseplan "+tn.ReleasePlan)
	assert.Contains(t, r.Output, "auto_release=observe")

	r = runStep(t, "check-konflux", kxEnv(s, tn, "AUTO_RELEASE", "observe"))
	require.Equal(t, 0, r.Code)
	assert.Contains(t, r.Output, "observe mode")

	p := kxStart(t, "create-release", kxReleaseEnv(s, tn, "AUTO_RELEASE", "observe", "PROGRESS_INTERVAL", "1s", "TIMEOUT", "2m"))
	kxPoll(t, "the step to wait for the auto-release", time.Minute, func() bool { return strings.Contains(p.out.String(), "no Release of Snapshot") })
	assert.Empty(t, kxReleases(t, s, tn.Namespace), "observe mode creates nothing")
	// integration-service: a Release named after the Snapshot, labelled automated, status.automated.
	auto := tn.Snapshot + "-x7k2p"
	require.NoError(t, s.CreateRelease(ctx, sandbox.ReleaseOptions{Namespace: tn.Namespace, Name: auto, Snapshot: tn.Snapshot, ReleasePlan: tn.ReleasePlan,
		Labels: map[string]string{"release.appstudio.openshift.io/automated": "true"}}))
	require.NoError(t, s.SetStatus(ctx, sandbox.Releases, tn.Namespace, auto, map[string]any{"automated": true, "conditions": []any{}}))
	kxPoll(t, "the step to follow it", time.Minute, func() bool { return strings.Contains(p.out.String(), "Release "+auto+": ") })
	st := sandbox.ReleaseStatus("True", "")
	st["automated"] = true
	require.NoError(t, s.SetStatus(ctx, sandbox.Releases, tn.Namespace, auto, st))
	res := kxDone(t, p)
	assert.Equal(t, 0, res.Code)
	assert.Equal(t, "Succeeded", res.Results["RELEASE_STATUS"])
	assert.Equal(t, auto, res.Results["RELEASE_NAME"])
	assert.Contains(t, res.Output, "(made by integration-service (auto-release))")
	assert.Len(t, kxReleases(t, s, tn.Namespace), 1, "only integration-service's Release")

	// No auto-release comes (integration-service said why on the Snapshot).
	quiet := kxSeed(t, s, "auto-quiet-tenant", sandbox.TenantOptions{})
	require.NoError(t, s.SetSnapshotConditions(ctx, quiet.Namespace, quiet.Snapshot,
		sandbox.Condition("AppStudioTestSucceeded", "True", "Passed", "all passed"),
		sandbox.Condition("AutoReleased", "True", "AutoReleased", "Skipping auto-release because the build pipeline's SHOULD_RELEASE result is 'false'")))
	r = runStep(t, "create-release", kxReleaseEnv(s, quiet, "AUTO_RELEASE", "observe", "TIMEOUT", "2s", "PROGRESS_INTERVAL", "1s"))
	assert.Equal(t, 1, r.Code)
	assert.Contains(t, r.Output, "in observe mode no Release of Snapshot "+quiet.Snapshot)
	assert.Contains(t, r.Output, "SHOULD_RELEASE result is 'false'")
	assert.Empty(t, kxReleases(t, s, quiet.Namespace))
}

// TestSnapshotChoiceLikeIntegrationService: a merge-queue Snapshot is ignored; a Snapshot
// without an event type is a push one; a canceled (superseded) Snapshot is explained as such.
func TestSnapshotChoiceLikeIntegrationService(t *testing.T) {
	s := sandbox.New(t)
	ctx := context.Background()
	mq := kxSeed(t, s, "merge-queue-tenant", sandbox.TenantOptions{})
	sandbox.WaitNextSecond()
	require.NoError(t, s.CreateSnapshot(ctx, sandbox.SnapshotOptions{Namespace: mq.Namespace, Name: "mq-snap", Application: mq.Application, Component: mq.Component,
		SHA: mq.SHA, Image: mq.Repository + "@" + mq.Digest, EventType: "push", Tests: "True",
		Annotations: map[string]string{konflux.AnnotationSourceBranch: "refs/heads/gh-readonly-queue/main/pr-12-0123abcd"}}))
	r := runStep(t, "check-konflux", kxEnv(s, mq))
	require.Equal(t, 0, r.Code)
	assert.Equal(t, mq.Snapshot, r.Results["SNAPSHOT"])
	assert.Contains(t, r.Output, "passed over Snapshot mq-snap: built for a merge queue")

	noEvent := kxSeed(t, s, "no-event-tenant", sandbox.TenantOptions{NoSnapshot: true})
	noEventImage := noEvent.Repository + "@" + noEvent.Digest
	require.NoError(t, s.Create(ctx, sandbox.Snapshots, noEvent.Namespace, map[string]any{
		"metadata": map[string]any{"name": "manual-snap", "labels": map[string]any{konflux.LabelComponent: noEvent.Component, konflux.LabelSHA: noEvent.SHA}},
		"spec":     map[string]any{"application": noEvent.Application, "components": []any{map[string]any{"name": noEvent.Component, "containerImage": noEventImage}}},
	}))
	require.NoError(t, s.SetSnapshotConditions(ctx, noEvent.Namespace, "manual-snap", sandbox.Condition("AppStudioTestSucceeded", "True", "Passed", "")))
	r = runStep(t, "check-konflux", kxEnv(s, noEvent))
	require.Equal(t, 0, r.Code, "no event type is a push, as integration-service reads it")
	assert.Equal(t, "manual-snap", r.Results["SNAPSHOT"])

	canceled := kxSeed(t, s, "canceled-tenant", sandbox.TenantOptions{})
	require.NoError(t, s.SetSnapshotConditions(ctx, canceled.Namespace, canceled.Snapshot,
		sandbox.Condition("AppStudioTestSucceeded", "Unknown", "InProgress", ""),
		sandbox.Condition("AppStudioIntegrationStatus", "True", "Canceled", "Snapshot canceled/superseded by a newer Snapshot")))
	r = runStep(t, "check-konflux", kxEnv(s, canceled))
	assert.Equal(t, 1, r.Code)
	assert.Contains(t, r.Output, "superseded by a newer Snapshot")
	assert.NotContains(t, r.Output, "still running")
	assert.Contains(t, r.Output, "fix: a newer build of "+canceled.Component+" exists: release that commit instead")
}

// TestNoReleaseOutOfOrder: after a newer commit is released (and recorded with its build time),
// an older commit is blocked unless allow_out_of_order.
func TestNoReleaseOutOfOrder(t *testing.T) {
	s := sandbox.New(t)
	ctx := context.Background()
	const newerSHA = "b0b1b2b3b4b5b6b7b8b9c0c1c2c3c4c5c6c7c8c9"
	older := kxSeed(t, s, "order-tenant", sandbox.TenantOptions{})
	sandbox.WaitNextSecond()
	digest, err := s.Registry.PushImage(ctx, older.Repository, newerSHA)
	require.NoError(t, err)
	newerSnap := older.Application + "-" + newerSHA[:8]
	require.NoError(t, s.CreateSnapshot(ctx, sandbox.SnapshotOptions{Namespace: older.Namespace, Name: newerSnap, Application: older.Application,
		Component: older.Component, SHA: newerSHA, Image: older.Repository + "@" + digest, EventType: "push", Tests: "True"}))
	// The newer commit went out first: its run recorded it (with the Snapshot's build time).
	h := runStep(t, "record-history", kxEnv(s, older, "COMMIT_SHA", newerSHA, "STATUS", "Succeeded", "RELEASE_NAME", "newer-release", "SNAPSHOT", newerSnap))
	require.Equal(t, 0, h.Code)

	r := runStep(t, "check-konflux", kxEnv(s, older))
	assert.Equal(t, 1, r.Code)
	assert.Contains(t, r.Output, "✗ out of order: a newer commit of "+older.Component)
	assert.Contains(t, r.Output, "likely cause: commit "+newerSHA+" of "+older.Component+", built after this one")
	assert.Contains(t, r.Output, "allow_out_of_order=true")

	r = runStep(t, "check-konflux", kxEnv(s, older, "ALLOW_OUT_OF_ORDER", "true"))
	require.Equal(t, 0, r.Code)
	assert.Contains(t, r.Output, "! out of order: commit "+newerSHA[:12])

	// The newer commit itself is in order.
	newer := *older
	newer.SHA = newerSHA
	r = runStep(t, "check-konflux", kxEnv(s, &newer))
	require.Equal(t, 0, r.Code)
	assert.Equal(t, "true", r.Results["ALREADY_RELEASED"])
}

// TestComponentGroupRelease: a ReleasePlan and Snapshot of a componentGroup are found and
// released like the application ones.
func TestComponentGroupRelease(t *testing.T) {
	s := sandbox.New(t)
	ctx := context.Background()
	tn := kxSeed(t, s, "group-tenant", sandbox.TenantOptions{NoSnapshot: true})
	const group = "aap-aa-group"
	require.NoError(t, s.CreateSnapshot(ctx, sandbox.SnapshotOptions{Namespace: tn.Namespace, Name: "group-snap", ComponentGroup: group,
		Component: tn.Component, SHA: tn.SHA, Image: tn.Repository + "@" + tn.Digest, EventType: "push", Tests: "True"}))
	require.NoError(t, s.CreateReleasePlan(ctx, sandbox.ReleasePlanOptions{Namespace: tn.Namespace, Name: "group-prod", ComponentGroup: group, Matched: true, Active: true}))

	pre := runStep(t, "check-konflux", kxEnv(s, tn, "COMPONENT_GROUP", group, "PINNED_DIGEST", tn.Digest))
	require.Equal(t, 0, pre.Code)
	assert.Equal(t, "group-snap", pre.Results["SNAPSHOT"])
	assert.Equal(t, "group-prod", pre.Results["RELEASE_PLAN"], "the group's plan, not the application's")
	assert.Contains(t, pre.Output, "released with componentGroup "+group)

	p := kxStart(t, "create-release", kxEnv(s, tn, "COMPONENT_GROUP", group, "SNAPSHOT", "group-snap", "RELEASE_PLAN", "group-prod", "PROGRESS_INTERVAL", "1s", "TIMEOUT", "2m"))
	name := konflux.ReleaseName(tn.Component, tn.SHA, "group-prod")
	kxPoll(t, "a progress line", time.Minute, func() bool { return strings.Contains(p.out.String(), "(elapsed ") })
	require.NoError(t, s.SetStatus(ctx, sandbox.Releases, tn.Namespace, name, sandbox.ReleaseStatus("True", "")))
	r := kxDone(t, p)
	assert.Equal(t, 0, r.Code)
	assert.Equal(t, "Succeeded", r.Results["RELEASE_STATUS"])
	rels := kxReleases(t, s, tn.Namespace)
	require.Len(t, rels, 1)
	assert.Equal(t, group, rels[0].GetLabels()[konflux.LabelComponentGroup])
	assert.Equal(t, "group-snap", rels[0].Object["spec"].(map[string]any)["snapshot"])

	r = runStep(t, "check-konflux", kxEnv(s, tn, "COMPONENT_GROUP", group, "RELEASE_PLAN", tn.ReleasePlan))
	assert.Equal(t, 2, r.Code, "the application's plan is not the group's")
	assert.Contains(t, r.Output, "is for application "+tn.Application+", not componentGroup "+group)
}

// pipelineRunCRD is a minimal tekton.dev PipelineRun CRD, installed by the build-wait test when
// the sandbox does not serve PipelineRuns, so that a failed build can be shown.
func ensurePipelineRunCRD(t *testing.T, s *sandbox.Sandbox) {
	t.Helper()
	ctx := context.Background()
	if _, err := s.Dynamic.Resource(konflux.PipelineRunsResource).Namespace("default").List(ctx, metav1.ListOptions{Limit: 1}); err == nil {
		return
	}
	crds := schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	crd := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
		"metadata": map[string]any{"name": "pipelineruns.tekton.dev"},
		"spec": map[string]any{
			"group": "tekton.dev", "scope": "Namespaced",
			"names": map[string]any{"kind": "PipelineRun", "listKind": "PipelineRunList", "plural": "pipelineruns", "singular": "pipelinerun"},
			"versions": []any{map[string]any{"name": "v1", "served": true, "storage": true, "subresources": map[string]any{"status": map[string]any{}},
				"schema": map[string]any{"openAPIV3Schema": map[string]any{"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}},
		},
	}}
	if _, err := s.Dynamic.Resource(crds).Create(ctx, crd, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	kxPoll(t, "PipelineRuns to be served", time.Minute, func() bool {
		_, err := s.Dynamic.Resource(konflux.PipelineRunsResource).Namespace("default").List(ctx, metav1.ListOptions{Limit: 1})
		return err == nil
	})
}

// TestWaitForBuild: a merge-triggered run starts with the build; check-image waits (progress
// lines), the image and the tested Snapshot arrive, and the run then releases. A failed build
// stops the wait with its cause; a commit that never gets a build stops at the timeout with
// advice about path filters. Without build_wait_timeout nothing waits.
func TestWaitForBuild(t *testing.T) {
	s := sandbox.New(t)
	ctx := context.Background()

	t.Run("the build arrives during the wait, then the run releases", func(t *testing.T) {
		tn := kxSeed(t, s, "build-wait-tenant", sandbox.TenantOptions{NoImage: true})
		p := kxStart(t, "check-image", kxEnv(s, tn, "BUILD_WAIT_TIMEOUT", "2m", "PROGRESS_INTERVAL", "1s"))
		kxPoll(t, "a progress line", time.Minute, func() bool {
			return strings.Contains(p.out.String(), "waiting for the build of commit "+tn.SHA[:12]+": ")
		})
		assert.Contains(t, p.out.String(), "image not pushed yet, no Snapshot yet")
		digest, err := s.Registry.PushImage(ctx, tn.Repository, tn.SHA)
		require.NoError(t, err)
		snap := tn.Application + "-built"
		require.NoError(t, s.CreateSnapshot(ctx, sandbox.SnapshotOptions{Namespace: tn.Namespace, Name: snap, Application: tn.Application, Component: tn.Component,
			SHA: tn.SHA, Image: tn.Repository + "@" + digest, EventType: "push", Tests: "Unknown"}))
		kxPoll(t, "the tests to be waited on", time.Minute, func() bool { return strings.Contains(p.out.String(), "Snapshot "+snap+" testing") })
		require.NoError(t, s.SetSnapshotConditions(ctx, tn.Namespace, snap, sandbox.Condition("AppStudioTestSucceeded", "True", "Passed", "all passed")))
		img := kxDone(t, p)
		require.Equal(t, 0, img.Code)
		assert.Equal(t, digest, img.Results["PINNED_DIGEST"])
		assert.Contains(t, img.Output, "✓ build of commit "+tn.SHA[:12]+" done")

		pre := runStep(t, "check-konflux", kxEnv(s, tn, "PINNED_DIGEST", digest))
		require.Equal(t, 0, pre.Code)
		assert.Equal(t, snap, pre.Results["SNAPSHOT"])
		r := runStep(t, "create-release", kxEnv(s, tn, "SNAPSHOT", snap, "RELEASE_PLAN", pre.Results["RELEASE_PLAN"], "WAIT", "false", "AUTOMATED", "true"))
		require.Equal(t, 0, r.Code)
		assert.Equal(t, "Created", r.Results["RELEASE_STATUS"])
	})

	t.Run("the build fails", func(t *testing.T) {
		ensurePipelineRunCRD(t, s)
		tn := kxSeed(t, s, "build-fail-tenant", sandbox.TenantOptions{NoImage: true})
		pr := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "tekton.dev/v1", "kind": "PipelineRun",
			"metadata": map[string]any{"name": tn.Component + "-on-push-abcde", "labels": map[string]any{
				"pipelinesascode.tekton.dev/sha": tn.SHA, "pipelinesascode.tekton.dev/event-type": "push",
				konflux.LabelComponent: tn.Component, "pipelines.appstudio.openshift.io/type": "build"}},
			"spec": map[string]any{},
		}}
		prs := s.Dynamic.Resource(konflux.PipelineRunsResource).Namespace(tn.Namespace)
		created, err := prs.Create(ctx, pr, metav1.CreateOptions{})
		require.NoError(t, err)
		created.Object["status"] = map[string]any{"conditions": []any{sandbox.Condition("Succeeded", "False", "Failed", "Tasks Completed: 5 (Failed: 1): build-container failed")}}
		_, err = prs.UpdateStatus(ctx, created, metav1.UpdateOptions{})
		require.NoError(t, err)
		r := runStep(t, "check-image", kxEnv(s, tn, "BUILD_WAIT_TIMEOUT", "2m", "PROGRESS_INTERVAL", "1s"))
		assert.Equal(t, 1, r.Code)
		assert.Contains(t, r.Output, "✗ build of commit "+tn.SHA[:12]+": PipelineRun "+tn.Component+"-on-push-abcde failed")
		assert.Contains(t, r.Output, "build-container failed")
		assert.Contains(t, r.Output, "fix: fix the build")
	})

	t.Run("path-filtered: no build ever comes", func(t *testing.T) {
		tn := kxSeed(t, s, "no-build-tenant", sandbox.TenantOptions{NoImage: true})
		start := time.Now()
		r := runStep(t, "check-image", kxEnv(s, tn, "BUILD_WAIT_TIMEOUT", "3s", "PROGRESS_INTERVAL", "1s"))
		assert.Equal(t, 1, r.Code)
		assert.Less(t, time.Since(start), time.Minute)
		assert.Contains(t, r.Output, "build not done after 3s")
		assert.Contains(t, r.Output, "a commit that changes no file the component's on-push PipelineRun watches")
		assert.Contains(t, r.Output, "there is nothing to release")
	})

	t.Run("tests fail during the wait", func(t *testing.T) {
		tn := kxSeed(t, s, "build-tests-fail-tenant", sandbox.TenantOptions{NoSnapshot: true})
		kxSnapshot(t, s, tn, "failing-snap", "push", "False", "")
		r := runStep(t, "check-image", kxEnv(s, tn, "BUILD_WAIT_TIMEOUT", "2m", "PROGRESS_INTERVAL", "1s"))
		assert.Equal(t, 1, r.Code)
		assert.Contains(t, r.Output, "Snapshot failing-snap: integration tests failed")
	})

	t.Run("no wait by hand: one HEAD", func(t *testing.T) {
		tn := kxSeed(t, s, "no-wait-tenant", sandbox.TenantOptions{})
		before := s.Registry.Hits("HEAD", "/v2/")
		r := runStep(t, "check-image", kxEnv(s, tn))
		require.Equal(t, 0, r.Code)
		assert.Equal(t, 1, s.Registry.Hits("HEAD", "/v2/")-before, "exactly one HEAD per tag")
		assert.NotContains(t, r.Output, "waiting")
	})
}

// TestHistoryRecordsBuildTime: record-history stores the released Snapshot's build time, which
// the out-of-order check reads.
func TestHistoryRecordsBuildTime(t *testing.T) {
	s := sandbox.New(t)
	tn := kxSeed(t, s, "built-tenant", sandbox.TenantOptions{})
	r := runStep(t, "record-history", kxEnv(s, tn, "STATUS", "Succeeded", "RELEASE_NAME", "r1", "SNAPSHOT", tn.Snapshot))
	require.Equal(t, 0, r.Code)
	entries := kxReadHistory(t, s, tn.Namespace, "release-history")
	require.Len(t, entries, 1)
	built, ok := entries[0].BuiltTime()
	require.True(t, ok, "built recorded: %+v", entries[0])
	assert.WithinDuration(t, time.Now(), built, 10*time.Minute)
}
