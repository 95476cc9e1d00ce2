package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/release-to-prod/release-to-prod/pkg/actions/history"
	"github.com/release-to-prod/release-to-prod/pkg/clients/konflux"
	"github.com/release-to-prod/release-to-prod/test/faults"
	"github.com/release-to-prod/release-to-prod/test/sandbox"
)

// cancelDeadline is how long a step may take to exit after SIGTERM: generous for a loaded
// machine, and far below every TIMEOUT the tests set (Tekton kills the pod after its grace
// period, 30s by default).
const cancelDeadline = 10 * time.Second

// terminate starts p, waits until ready() (a line in its output, a request seen by a fault),
// sends SIGTERM as Tekton does when a PipelineRun is cancelled or times out, and returns the
// finished run and how long the exit took after the signal.
func terminate(t *testing.T, p *kxProc, what string, ready func() bool) (Run, time.Duration) {
	t.Helper()
	require.NoError(t, p.cmd.Start())
	kxPoll(t, what, time.Minute, ready)
	sent := time.Now()
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	done := make(chan struct{})
	var r Run
	var err error
	go func() { r, err = p.wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(cancelDeadline):
		_ = p.cmd.Process.Kill()
		<-done
		t.Fatalf("still running %s after SIGTERM; output:\n%s", cancelDeadline, p.out.String())
	}
	took := time.Since(sent)
	require.NoError(t, err)
	t.Logf("exited %d, %s after SIGTERM:\n%s", r.Code, took.Round(time.Millisecond), strings.TrimSpace(r.Output))
	return r, took
}

// outputHas is a ready condition: a line of p's output contains part.
func outputHas(p *kxProc, part string) func() bool {
	return func() bool { return hasLine(p.out.String(), part) }
}

// TestCancelQuayPolling: SIGTERM while check-vulnerabilities polls a scan Quay keeps queued
// ends the step at once, blocking (no result), and says what it was waiting for.
func TestCancelQuayPolling(t *testing.T) {
	if testing.Short() {
		t.Skip("sandbox: starts a registry with the Quay stand-in")
	}
	reg, err := sandbox.StartRegistry()
	require.NoError(t, err)
	t.Cleanup(reg.Close)
	reg.Quay.SetSecurity(quayRepo, quayQueued, sandbox.QuayStatus("queued"))
	p := kxCommand(t, "check-vulnerabilities", map[string]string{
		"STAGING_IMAGE": reg.Host + "/" + quayRepo, "PINNED_DIGEST": quayQueued, "QUAY_API_URL": reg.URL,
		"POLL_INTERVAL": "200ms", "POLL_TIMEOUT": "5m", "REQUEST_TIMEOUT": "5s",
	})
	r, took := terminate(t, p, "a queued poll", outputHas(p, "scan queued for "+quayQueued))
	assert.NotEqual(t, 0, r.Code)
	assert.Less(t, took, cancelDeadline)
	assert.Contains(t, r.Output, "waiting for Quay's scan of "+quayQueued+": context canceled")
	assert.Empty(t, r.Results, "a stopped gate never passes")
}

// TestCancelKonflux: SIGTERM while create-release waits for the Released condition, and while
// record-history writes the history.
func TestCancelKonflux(t *testing.T) {
	s := sandbox.New(t)
	ctx := context.Background()

	t.Run("create-release waiting", func(t *testing.T) {
		tn := kxSeed(t, s, "cancel-wait", sandbox.TenantOptions{})
		name := konflux.ReleaseName(tn.Component, tn.SHA, tn.ReleasePlan)
		p := kxCommand(t, "create-release", kxReleaseEnv(s, tn, "PROGRESS_INTERVAL", "1s", "TIMEOUT", "10m"))
		r, took := terminate(t, p, "a progress line", outputHas(p, "Release "+name+": waiting for the release service (elapsed "))
		assert.NotEqual(t, 0, r.Code)
		assert.Less(t, took, cancelDeadline)
		assert.Contains(t, r.Output, "Release "+name+" was created and is still running in Konflux")
		assert.Contains(t, r.Output, "kubectl get release "+name+" -n "+tn.Namespace+" -w")
		list, err := s.Dynamic.Resource(sandbox.Releases).Namespace(tn.Namespace).List(ctx, metav1.ListOptions{})
		require.NoError(t, err)
		assert.Len(t, list.Items, 1, "the Release stays")
	})

	// The update of the history is held in the proxy, before or after the API server applies
	// it; either way the history decodes and holds the run's entry at most once, complete.
	tn := kxSeed(t, s, "cancel-history", sandbox.TenantOptions{})
	kxHistory(t, s, tn.Namespace, history.Entry{SHA: tn.SHA, Component: tn.Component, Status: "Failed", PipelineRun: "earlier-run"})
	writes := faults.MethodPath("PUT", "/configmaps/")
	for _, tc := range []struct {
		name    string
		applied bool
	}{{"record-history write held before the API server", false}, {"record-history write applied, answer held", true}} {
		t.Run(tc.name, func(t *testing.T) {
			run := "cancel-run-" + fmt.Sprint(tc.applied)
			var held func() bool
			var wrap func(http.Handler) http.Handler
			release := func() {}
			if tc.applied {
				h := &holdAnswer{match: writes}
				held, wrap = func() bool { return h.applied.Load() > 0 }, h.Wrap
			} else {
				inj := faults.New(faults.Fault{Kind: faults.Hang, Match: writes})
				held, wrap, release = func() bool { return inj.Injected() > 0 }, inj.Wrap, inj.Close
			}
			kubeconfig := kubeFaultProxy(t, s, wrap)
			// Before the proxy closes: a hung PUT whose body was never read does not see its
			// client leave, and httptest's Close waits for it.
			t.Cleanup(release)
			p := kxCommand(t, "record-history", kxEnv(s, tn, "KUBECONFIG", kubeconfig, "STATUS", "Succeeded",
				"RELEASE_NAME", "release-"+run, "PIPELINE_RUN", run, "TIMEOUT", "10m"))
			r, took := terminate(t, p, "the held write", held)
			assert.NotEqual(t, 0, r.Code)
			assert.Less(t, took, cancelDeadline)
			assert.Contains(t, r.Output, "terminated signal received", "says it was stopped")
			entries := kxReadHistory(t, s, tn.Namespace, "release-history") // decodes, or fails the test
			mine := 0
			for _, e := range entries {
				if e.PipelineRun == run {
					mine++
					assert.Equal(t, history.Entry{SHA: tn.SHA, Component: tn.Component, Application: tn.Application,
						Release: "release-" + run, Status: "Succeeded", Finished: e.Finished, PipelineRun: run}, e, "a complete entry")
				}
			}
			want := 0
			if tc.applied {
				want = 1
			}
			assert.Equal(t, want, mine, "the run's entry, at most once")
			assert.Equal(t, "earlier-run", entries[len(entries)-1].PipelineRun, "older entries kept")
		})
	}
}

// holdAnswer passes matching requests to the API server and then holds the answer until the
// client goes away: the write is applied, the step never hears of it.
type holdAnswer struct {
	match   func(*http.Request) bool
	applied atomic.Int32
}

func (h *holdAnswer) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !h.match(r) {
			next.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(httptest.NewRecorder(), r)
		h.applied.Add(1)
		<-r.Context().Done()
	})
}
