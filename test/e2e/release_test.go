package e2e

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/release-to-prod/release-to-prod/pkg/clients/konflux"
	"github.com/release-to-prod/release-to-prod/test/sandbox"
)

// kxProc is a step process started in the background, for races and for tests that act while
// the step waits.
type kxProc struct {
	cmd     *exec.Cmd
	out     *kxBuffer
	results string
}

type kxBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *kxBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *kxBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// kxCommand prepares a step process the way runStep runs one; Start it (or several) yourself.
func kxCommand(t *testing.T, name string, env map[string]string) *kxProc {
	t.Helper()
	bin := stepBinary(t, name)
	p := &kxProc{out: &kxBuffer{}, results: t.TempDir()}
	p.cmd = exec.Command(bin)
	p.cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "RESULTS_DIR=" + p.results}
	for k, v := range env {
		p.cmd.Env = append(p.cmd.Env, k+"="+v)
	}
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	t.Cleanup(func() {
		if p.cmd.Process != nil && p.cmd.ProcessState == nil {
			_ = p.cmd.Process.Kill()
			_ = p.cmd.Wait()
		}
	})
	return p
}

// wait ends the process and reads its results (no t.Fatal: it may run off the test goroutine).
func (p *kxProc) wait() (Run, error) {
	err := p.cmd.Wait()
	r := Run{Output: p.out.String(), Results: map[string]string{}}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.Code = ee.ExitCode()
	case err != nil:
		return r, err
	}
	entries, err := os.ReadDir(p.results)
	if err != nil {
		return r, err
	}
	for _, e := range entries {
		if sideFile(e.Name()) {
			continue
		}
		b, err := os.ReadFile(filepath.Join(p.results, e.Name()))
		if err != nil {
			return r, err
		}
		r.Results[e.Name()] = string(b)
	}
	return r, nil
}

// kxPoll waits for cond, polling with a deadline.
func kxPoll(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func kxReleaseEnv(s *sandbox.Sandbox, tn *sandbox.Tenant, kv ...string) map[string]string {
	return kxEnv(s, tn, append([]string{"SNAPSHOT", tn.Snapshot, "RELEASE_PLAN", tn.ReleasePlan}, kv...)...)
}

// TestCreateReleaseRace: 20 create-release processes started at once for one commit create
// exactly one Release; every one exits 0 and names it.
func TestCreateReleaseRace(t *testing.T) {
	s := sandbox.New(t)
	ctx := context.Background()
	tn := kxSeed(t, s, "race-tenant", sandbox.TenantOptions{})
	const n = 20
	procs := make([]*kxProc, n)
	for i := range procs {
		procs[i] = kxCommand(t, "create-release", kxReleaseEnv(s, tn, "WAIT", "false", "AUTOMATED", "true"))
	}
	for _, p := range procs {
		require.NoError(t, p.cmd.Start())
	}
	runs := make([]Run, n)
	for i, p := range procs {
		r, err := p.wait()
		require.NoError(t, err)
		runs[i] = r
	}
	want := konflux.ReleaseName(tn.Component, tn.SHA, tn.ReleasePlan)
	statuses := map[string]int{}
	for i, r := range runs {
		assert.Equal(t, 0, r.Code, "process %d:\n%s", i, r.Output)
		assert.Equal(t, want, r.Results["RELEASE_NAME"], "process %d", i)
		statuses[r.Results["RELEASE_STATUS"]]++
	}
	// The others find the Release running and report it so (WAIT=false): never "released".
	assert.Equal(t, map[string]int{"Created": 1, "Running": n - 1}, statuses)
	list, err := s.Dynamic.Resource(sandbox.Releases).Namespace(tn.Namespace).List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	require.Len(t, list.Items, 1, "exactly one Release")
	rel := list.Items[0]
	assert.Equal(t, want, rel.GetName())
	assert.LessOrEqual(t, len(rel.GetName()), 63)
	l := rel.GetLabels()
	assert.Equal(t, tn.SHA, l["pac.test.appstudio.openshift.io/sha"])
	assert.Equal(t, tn.Component, l["appstudio.openshift.io/component"])
	assert.Equal(t, tn.Application, l["appstudio.openshift.io/application"])
	assert.Equal(t, tn.ReleasePlan, l["release.appstudio.openshift.io/releasePlan"])
	assert.Equal(t, tn.Snapshot, l["release.appstudio.openshift.io/snapshot"])
	assert.NotContains(t, l, "release.appstudio.openshift.io/automated", "only integration-service may mark a Release automated")
	assert.Equal(t, "automation", rel.GetAnnotations()["release-to-prod/started-by"])
	for _, r := range runs {
		if r.Results["RELEASE_STATUS"] == "Running" {
			assert.Contains(t, r.Output, "not waiting for its outcome (WAIT=false)")
			assert.NotContains(t, r.Output, "already released")
		}
	}
}

// TestCreateReleaseWait: the step waits for the Released condition (set here, as the release
// service would), printing progress, and explains failures.
func TestCreateReleaseWait(t *testing.T) {
	s := sandbox.New(t)
	ctx := context.Background()
	t.Logf("CRDs: %s", s.CRDs)

	tests := []struct {
		name       string
		status     func(name string) map[string]any // nil: never finishes
		env        []string
		wantCode   int
		wantStatus string
		outHas     []string
	}{
		{name: "succeeded", wantCode: 0, wantStatus: "Succeeded",
			status: func(string) map[string]any { return sandbox.ReleaseStatus("True", "") },
			outHas: []string{"✓ created Release", "(elapsed ", "succeeded after"}},
		{name: "validation failed", wantCode: 1, wantStatus: "Failed",
			status: func(string) map[string]any {
				st := sandbox.ReleaseStatus("False", "Release validation failed")
				st["conditions"] = append(st["conditions"].([]any),
					sandbox.Condition("Validated", "False", "Failed", "the ReleasePlanAdmission rhtap-releng-tenant/aap-aa-main-prod does not allow this application"))
				return st
			},
			outHas: []string{"✗ Release", "failed validation: the ReleasePlanAdmission rhtap-releng-tenant/aap-aa-main-prod does not allow this application",
				"likely cause: the release service did not accept Release", "a Release that failed does not block a new one"}},
		{name: "managed pipeline killed for memory", wantCode: 1, wantStatus: "Failed",
			status: func(string) map[string]any {
				st := sandbox.ReleaseStatus("False", "Release processing failed on managed pipelineRun")
				st["conditions"] = append(st["conditions"].([]any),
					sandbox.Condition("Validated", "True", "Succeeded", ""),
					sandbox.Condition("ManagedPipelineProcessed", "False", "Failed", "task push-snapshot failed: OOMKilled"))
				st["managedPipelineAttempts"] = []any{map[string]any{
					"pipelineRun": "rhtap-releng-tenant/managed-x7k2p", "status": "Failed", "failureReason": "OOMKill",
					"lastTask": "push-snapshot", "lastStep": "push-image", "startTime": time.Now().UTC().Format(time.RFC3339)}}
				return st
			},
			outHas: []string{"(OOMKill in task push-snapshot, step push-image): task push-snapshot failed: OOMKilled",
				"managed release PipelineRun rhtap-releng-tenant/managed-x7k2p", "ran out of memory"}},
		{name: "timed out", env: []string{"TIMEOUT", "3s"}, wantCode: 1, wantStatus: "TimedOut",
			outHas: []string{"not finished after 3s", "it keeps running in Konflux"}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ns := "wait-tenant-" + string(rune('a'+i))
			tn := kxSeed(t, s, ns, sandbox.TenantOptions{})
			name := konflux.ReleaseName(tn.Component, tn.SHA, tn.ReleasePlan)
			p := kxCommand(t, "create-release", kxReleaseEnv(s, tn, append([]string{"PROGRESS_INTERVAL", "1s", "TIMEOUT", "2m"}, tt.env...)...))
			require.NoError(t, p.cmd.Start())
			if tt.status != nil {
				// Let it report progress at least once, then finish the Release.
				kxPoll(t, "a progress line", time.Minute, func() bool { return strings.Contains(p.out.String(), "(elapsed ") })
				require.NoError(t, s.SetStatus(ctx, sandbox.Releases, ns, name, tt.status(name)))
			}
			r, err := p.wait()
			require.NoError(t, err)
			t.Logf("create-release exited %d:\n%s", r.Code, r.Output)
			assert.Equal(t, tt.wantCode, r.Code)
			assert.Equal(t, tt.wantStatus, r.Results["RELEASE_STATUS"])
			assert.Equal(t, name, r.Results["RELEASE_NAME"])
			for _, want := range tt.outHas {
				assert.Contains(t, r.Output, want)
			}
			assert.Contains(t, r.Output, "Release "+name+": waiting for the release service (elapsed 1s)", "progress: phase and elapsed time")
		})
	}
}

// TestCreateReleaseExisting: a Release of the commit that succeeded is reported, not
// duplicated; a Release of another commit that holds the deterministic name is an error naming
// it; one of the commit that failed allows a new Release, under the next name, and is named.
func TestCreateReleaseExisting(t *testing.T) {
	s := sandbox.New(t)
	ctx := context.Background()

	same := kxSeed(t, s, "same-tenant", sandbox.TenantOptions{})
	name := konflux.ReleaseName(same.Component, same.SHA, same.ReleasePlan)
	require.NoError(t, s.CreateRelease(ctx, sandbox.ReleaseOptions{Namespace: same.Namespace, Name: name, Snapshot: same.Snapshot, ReleasePlan: same.ReleasePlan, Released: "True"}))

	differs := kxSeed(t, s, "differs-tenant", sandbox.TenantOptions{})
	dname := konflux.ReleaseName(differs.Component, differs.SHA, differs.ReleasePlan)
	require.NoError(t, s.CreateRelease(ctx, sandbox.ReleaseOptions{Namespace: differs.Namespace, Name: dname, Snapshot: "another-commits-snapshot", ReleasePlan: differs.ReleasePlan}))

	failedT := kxSeed(t, s, "failed-release-tenant", sandbox.TenantOptions{})
	fname := konflux.ReleaseName(failedT.Component, failedT.SHA, failedT.ReleasePlan)
	require.NoError(t, s.CreateRelease(ctx, sandbox.ReleaseOptions{Namespace: failedT.Namespace, Name: fname, Snapshot: failedT.Snapshot, ReleasePlan: failedT.ReleasePlan, Released: "False"}))

	r := runStep(t, "create-release", kxReleaseEnv(s, same))
	assert.Equal(t, 0, r.Code)
	assert.Equal(t, "AlreadyReleased", r.Results["RELEASE_STATUS"])
	assert.Equal(t, name, r.Results["RELEASE_NAME"])
	assert.Contains(t, r.Output, "✓ already released by "+name)

	r = runStep(t, "create-release", kxReleaseEnv(s, differs))
	assert.Equal(t, 1, r.Code)
	assert.Contains(t, r.Output, "Release "+dname+" already exists with snapshot another-commits-snapshot")
	assert.Contains(t, r.Output, "kubectl get release "+dname+" -n differs-tenant")

	r = runStep(t, "create-release", kxReleaseEnv(s, failedT, "WAIT", "false"))
	assert.Equal(t, 0, r.Code)
	next := konflux.ReleaseNameAttempt(failedT.Component, failedT.SHA, failedT.ReleasePlan, 2)
	assert.Equal(t, "Created", r.Results["RELEASE_STATUS"])
	assert.Equal(t, next, r.Results["RELEASE_NAME"])
	assert.Contains(t, r.Output, "Release "+fname+" of Snapshot "+failedT.Snapshot+" (made by someone else) failed: a new Release is created")
	assert.Contains(t, r.Output, "✓ created Release "+next)

	for tn, want := range map[*sandbox.Tenant]int{same: 1, differs: 1, failedT: 2} {
		list, err := s.Dynamic.Resource(sandbox.Releases).Namespace(tn.Namespace).List(ctx, metav1.ListOptions{})
		require.NoError(t, err)
		assert.Len(t, list.Items, want, "Releases in %s", tn.Namespace)
	}
}

// TestCreateReleaseDryRun: nothing is created, and the printed Release is one the API server
// accepts (applied here with a server-side dry run).
func TestCreateReleaseDryRun(t *testing.T) {
	s := sandbox.New(t)
	ctx := context.Background()
	tn := kxSeed(t, s, "dry-tenant", sandbox.TenantOptions{})
	r := runStep(t, "create-release", kxReleaseEnv(s, tn, "DRY_RUN", "true"))
	require.Equal(t, 0, r.Code)
	assert.Equal(t, "DryRun", r.Results["RELEASE_STATUS"])
	name := konflux.ReleaseName(tn.Component, tn.SHA, tn.ReleasePlan)
	assert.Equal(t, name, r.Results["RELEASE_NAME"])

	res := s.Dynamic.Resource(sandbox.Releases).Namespace(tn.Namespace)
	list, err := res.List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	assert.Empty(t, list.Items, "a dry run creates nothing")

	_, doc, ok := strings.Cut(r.Output, "\n---\n")
	require.True(t, ok, "the Release is printed as a YAML document")
	u := &unstructured.Unstructured{}
	require.NoError(t, yaml.UnmarshalStrict([]byte(doc), &u.Object))
	assert.Equal(t, "Release", u.GetKind())
	assert.Equal(t, name, u.GetName())
	assert.NotContains(t, u.GetLabels(), "release.appstudio.openshift.io/automated", "never set by the project")
	assert.Equal(t, "person", u.GetAnnotations()["release-to-prod/started-by"], "started by hand")
	got, err := res.Create(ctx, u, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
	require.NoError(t, err, "the API server accepts the printed Release")
	assert.Equal(t, tn.Snapshot, got.Object["spec"].(map[string]any)["snapshot"])
	list, err = res.List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	assert.Empty(t, list.Items)

	// An invalid setting is refused before anything happens.
	r = runStep(t, "create-release", kxReleaseEnv(s, tn, "DRY_RUN", "perhaps"))
	assert.Equal(t, 2, r.Code)
	assert.Contains(t, r.Output, `DRY_RUN "perhaps" is not true or false`)
}
