package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/release-to-prod/release-to-prod/pkg/actions/history"
	"github.com/release-to-prod/release-to-prod/pkg/clients/konflux"
	"github.com/release-to-prod/release-to-prod/test/faults"
	"github.com/release-to-prod/release-to-prod/test/sandbox"
)

// kubeFaultProxy serves, on loopback over HTTPS (HTTP/1.1, so that a reset can be injected), a
// reverse proxy to the sandbox's API server with wrap around it, and writes a kubeconfig for it.
// envtest's admin authenticates with a client certificate, which a proxy that ends TLS cannot
// pass on: the proxy presents it upstream itself, and the kubeconfig carries only the proxy's
// CA. (faults.NewProxy cannot do this: it has no client certificate for the target.)
func kubeFaultProxy(t *testing.T, s *sandbox.Sandbox, wrap func(http.Handler) http.Handler) string {
	t.Helper()
	host := s.Config.Host
	if !strings.Contains(host, "://") {
		host = "https://" + host
	}
	target, err := url.Parse(host)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(s.Config.CAData), "the sandbox's rest.Config carries its CA")
	require.NotEmpty(t, s.Config.CertData, "envtest's admin authenticates with a client certificate")
	cert, err := tls.X509KeyPair(s.Config.CertData, s.Config.KeyData)
	require.NoError(t, err)
	rp := httputil.NewSingleHostReverseProxy(target)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	rp.Transport = tr
	srv := httptest.NewUnstartedServer(wrap(rp))
	srv.EnableHTTP2 = false
	srv.StartTLS()
	t.Cleanup(srv.Close)
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["faults"] = &clientcmdapi.Cluster{Server: srv.URL, CertificateAuthorityData: ca}
	cfg.AuthInfos["admin"] = &clientcmdapi.AuthInfo{}
	cfg.Contexts["faults"] = &clientcmdapi.Context{Cluster: "faults", AuthInfo: "admin"}
	cfg.CurrentContext = "faults"
	path := filepath.Join(t.TempDir(), "kubeconfig")
	require.NoError(t, clientcmd.WriteToFile(*cfg, path))
	return path
}

// lostReply lets the first matching requests (all, with first 0) reach the real component and
// then loses the answer: it resets the connection (code 0) or answers code instead. It is "the
// create succeeded but the response was lost".
type lostReply struct {
	match      func(*http.Request) bool
	first      int
	code       int
	retryAfter string

	mu   sync.Mutex
	hits int
}

func (l *lostReply) String() string {
	how := "reset"
	if l.code != 0 {
		how = fmt.Sprint(l.code)
		if l.retryAfter != "" {
			how += " Retry-After " + l.retryAfter
		}
	}
	n := "always"
	if l.first > 0 {
		n = fmt.Sprintf("first %d", l.first)
	}
	return fmt.Sprintf("lost reply (%s) %s", how, n)
}

func (l *lostReply) take(r *http.Request) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.match != nil && !l.match(r) || l.first > 0 && l.hits >= l.first {
		return false
	}
	l.hits++
	return true
}

// Lost is how many answers were lost.
func (l *lostReply) Lost() int { l.mu.Lock(); defer l.mu.Unlock(); return l.hits }

func (l *lostReply) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !l.take(r) {
			next.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(httptest.NewRecorder(), r) // applied; the answer goes nowhere
		if l.code == 0 {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err != nil {
				return
			}
			if tc, ok := conn.(*net.TCPConn); ok {
				_ = tc.SetLinger(0)
			}
			_ = conn.Close()
			return
		}
		if l.retryAfter != "" {
			w.Header().Set("Retry-After", l.retryAfter)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(l.code)
		fmt.Fprintf(w, `{"message":"injected: answer lost (%d)"}`, l.code)
	})
}

// TestKonfluxFaults puts the API server behind injected faults for each Konflux step, on one
// sandbox.
func TestKonfluxFaults(t *testing.T) {
	s := sandbox.New(t)
	t.Run("check-konflux", func(t *testing.T) { konfluxPreflightFaults(t, s) })
	t.Run("create-release", func(t *testing.T) { createReleaseFaults(t, s) })
	t.Run("create-release waiting", func(t *testing.T) { createReleaseFaultsWhileWaiting(t, s) })
	t.Run("record-history", func(t *testing.T) { recordHistoryFaults(t, s) })
}

// kubeFault is one fault case of a Konflux step: an injector fault, or a lost reply.
type kubeFault struct {
	fault    faults.Fault
	lost     *lostReply
	wantCode int
	status   string // RELEASE_STATUS wanted from create-release
	outHas   string
}

func (k kubeFault) name() string {
	if k.lost != nil {
		return k.lost.String()
	}
	return k.fault.String()
}

// wrap returns the handler chain of the case and a count of the faults it injected.
func (k kubeFault) wrap() (func(http.Handler) http.Handler, func() int, func()) {
	if k.lost != nil {
		return k.lost.Wrap, k.lost.Lost, func() {}
	}
	inj := faults.New(k.fault)
	return inj.Wrap, inj.Injected, inj.Close
}

// konfluxPreflightFaults puts the API server behind injected faults for check-konflux
// (its six reads run in parallel). Transient faults are retried (client-go for Retry-After
// and resets, the step's read retry for plain 429/5xx) and the preflight passes with the real
// Snapshot; persistent ones fail closed within TIMEOUT: exit 1, no results, advice.
func konfluxPreflightFaults(t *testing.T, s *sandbox.Sandbox) {
	tn := kxSeed(t, s, "faults-preflight", sandbox.TenantOptions{})
	reads := faults.MethodPath("GET", "/")
	const timeout = 6 * time.Second
	tests := []kubeFault{
		{fault: faults.Fault{Kind: faults.Status, Code: 429, RetryAfter: "1", First: 2, Match: reads}},
		{fault: faults.Fault{Kind: faults.Status, Code: 500, First: 2, Match: reads}},
		{fault: faults.Fault{Kind: faults.Status, Code: 503, First: 2, Match: reads}},
		{fault: faults.Fault{Kind: faults.Reset, First: 1, Match: reads}},
		{fault: faults.Fault{Kind: faults.Status, Code: 503, Match: reads}, wantCode: 1, outHas: "likely cause: "},
		{fault: faults.Fault{Kind: faults.Reset, Match: reads}, wantCode: 1, outHas: "likely cause: "},
		{fault: faults.Fault{Kind: faults.Hang, Match: reads}, wantCode: 1, outHas: "likely cause: "},
	}
	for _, tt := range tests {
		t.Run(tt.name(), func(t *testing.T) {
			wrap, injected, closeInj := tt.wrap()
			kubeconfig := kubeFaultProxy(t, s, wrap)
			t.Cleanup(closeInj)
			start := time.Now()
			r := runStep(t, "check-konflux", kxEnv(s, tn, "KUBECONFIG", kubeconfig, "PINNED_DIGEST", tn.Digest, "TIMEOUT", timeout.String()))
			elapsed := time.Since(start)
			assert.Equal(t, tt.wantCode, r.Code)
			assert.Positive(t, injected())
			if tt.wantCode == 0 {
				assert.Equal(t, tn.Snapshot, r.Results["SNAPSHOT"])
				assert.Equal(t, tn.ReleasePlan, r.Results["RELEASE_PLAN"])
				assert.Equal(t, "false", r.Results["ALREADY_RELEASED"])
				return
			}
			assert.Contains(t, r.Output, tt.outHas)
			assert.Empty(t, r.Results, "a gate whose source failed never passes")
			assert.Less(t, elapsed, timeout+3*time.Second, "within TIMEOUT")
		})
	}
}

// createReleaseFaults puts the create of the Release behind injected faults, including
// answers lost after the API server applied the create. However the calls fail, at most one
// Release exists afterwards; a transient fault or a lost answer ends with exactly one, reported
// as created by this run.
func createReleaseFaults(t *testing.T, s *sandbox.Sandbox) {
	ctx := context.Background()
	create := faults.MethodPath("POST", "/releases")
	const timeout = 9 * time.Second // a create attempt gets a third: 3s
	tests := []kubeFault{
		{fault: faults.Fault{Kind: faults.Status, Code: 429, RetryAfter: "1", First: 2, Match: create}, status: "Created"},
		{fault: faults.Fault{Kind: faults.Status, Code: 500, First: 2, Match: create}, status: "Created"},
		{fault: faults.Fault{Kind: faults.Status, Code: 503, First: 2, Match: create}, status: "Created"},
		{fault: faults.Fault{Kind: faults.Reset, First: 1, Match: create}, status: "Created"},
		{fault: faults.Fault{Kind: faults.Hang, First: 1, Match: create}, status: "Created"},
		{fault: faults.Fault{Kind: faults.Status, Code: 503, Match: create}, wantCode: 1, outHas: "likely cause: "},
		{fault: faults.Fault{Kind: faults.Reset, Match: create}, wantCode: 1, outHas: "likely cause: "},
		{fault: faults.Fault{Kind: faults.Hang, Match: create}, wantCode: 1, outHas: "likely cause: "},
		{lost: &lostReply{match: create, first: 1}, status: "Created", outHas: "answer to an earlier create was lost"},
		{lost: &lostReply{match: create, first: 1, code: 503}, status: "Created", outHas: "answer to an earlier create was lost"},
		{lost: &lostReply{match: create, first: 1, code: 503, retryAfter: "1"}, status: "Created", outHas: "answer to an earlier create was lost"},
		{lost: &lostReply{match: create, first: 1, code: 504}, status: "Created", outHas: "answer to an earlier create was lost"},
		{lost: &lostReply{match: create}, wantCode: 1, outHas: "an earlier attempt may have created it: kubectl get release"},
	}
	for i, tt := range tests {
		t.Run(tt.name(), func(t *testing.T) {
			tn := kxSeed(t, s, fmt.Sprintf("faults-create-%d", i), sandbox.TenantOptions{})
			wrap, injected, closeInj := tt.wrap()
			kubeconfig := kubeFaultProxy(t, s, wrap)
			t.Cleanup(closeInj)
			start := time.Now()
			r := runStep(t, "create-release", kxReleaseEnv(s, tn, "KUBECONFIG", kubeconfig, "WAIT", "false", "TIMEOUT", timeout.String()))
			elapsed := time.Since(start)
			assert.Equal(t, tt.wantCode, r.Code)
			assert.Positive(t, injected())
			if tt.outHas != "" {
				assert.Contains(t, r.Output, tt.outHas)
			}
			list, err := s.Dynamic.Resource(sandbox.Releases).Namespace(tn.Namespace).List(ctx, metav1.ListOptions{})
			require.NoError(t, err)
			assert.LessOrEqual(t, len(list.Items), 1, "never two Releases")
			assert.Less(t, elapsed, timeout+3*time.Second, "within TIMEOUT")
			if tt.wantCode == 0 {
				assert.Equal(t, tt.status, r.Results["RELEASE_STATUS"])
				assert.Len(t, list.Items, 1, "exactly one Release")
				return
			}
			assert.NotContains(t, r.Results, "RELEASE_STATUS", "no outcome claimed")
			if tt.lost != nil {
				assert.Len(t, list.Items, 1, "the lost creates made exactly one Release")
			}
		})
	}
}

// createReleaseFaultsWhileWaiting: reads of the Release fail for a while during the wait;
// the step warns, keeps polling, and reports the outcome the release service then sets.
func createReleaseFaultsWhileWaiting(t *testing.T, s *sandbox.Sandbox) {
	ctx := context.Background()
	tn := kxSeed(t, s, "faults-wait", sandbox.TenantOptions{})
	name := konflux.ReleaseName(tn.Component, tn.SHA, tn.ReleasePlan)
	inj := faults.New(faults.Fault{Kind: faults.Status, Code: 503, First: 6, Match: faults.MethodPath("GET", "/releases/"+name)})
	kubeconfig := kubeFaultProxy(t, s, inj.Wrap)
	t.Cleanup(inj.Close)
	p := kxCommand(t, "create-release", kxReleaseEnv(s, tn, "KUBECONFIG", kubeconfig, "PROGRESS_INTERVAL", "1s", "TIMEOUT", "60s"))
	require.NoError(t, p.cmd.Start())
	kxPoll(t, "the faults to be injected", 30*time.Second, func() bool { return inj.Injected() >= 6 })
	require.NoError(t, s.SetStatus(ctx, sandbox.Releases, tn.Namespace, name, sandbox.ReleaseStatus("True", "")))
	r, err := p.wait()
	require.NoError(t, err)
	t.Logf("create-release exited %d:\n%s", r.Code, r.Output)
	assert.Equal(t, 0, r.Code)
	assert.Equal(t, "Succeeded", r.Results["RELEASE_STATUS"])
	assert.Contains(t, r.Output, "! reading Release "+name+": ")
	assert.Contains(t, r.Output, "(retrying until the timeout)")
}

// recordHistoryFaults puts the history ConfigMap's reads and writes behind injected faults.
// Transient faults and lost answers to the update leave exactly one entry of the run; persistent
// faults fail within TIMEOUT and leave none; the history always decodes.
func recordHistoryFaults(t *testing.T, s *sandbox.Sandbox) {
	tn := kxSeed(t, s, "faults-history", sandbox.TenantOptions{})
	kxHistory(t, s, tn.Namespace, history.Entry{SHA: tn.SHA, Component: tn.Component, Status: "Failed", PipelineRun: "earlier-run"})
	reads := faults.MethodPath("GET", "/configmaps/")
	writes := faults.MethodPath("PUT", "/configmaps/")
	all := faults.MethodPath("", "/configmaps")
	const timeout = 6 * time.Second
	tests := []kubeFault{
		{fault: faults.Fault{Kind: faults.Status, Code: 429, RetryAfter: "1", First: 2, Match: reads}},
		{fault: faults.Fault{Kind: faults.Status, Code: 500, First: 2, Match: reads}},
		{fault: faults.Fault{Kind: faults.Status, Code: 503, First: 2, Match: reads}},
		{fault: faults.Fault{Kind: faults.Reset, First: 1, Match: reads}},
		{fault: faults.Fault{Kind: faults.Status, Code: 503, First: 1, Match: writes}},
		{fault: faults.Fault{Kind: faults.Reset, First: 1, Match: writes}},
		{fault: faults.Fault{Kind: faults.Status, Code: 503, Match: all}, wantCode: 1, outHas: "likely cause: "},
		{fault: faults.Fault{Kind: faults.Reset, Match: all}, wantCode: 1, outHas: "likely cause: "},
		{fault: faults.Fault{Kind: faults.Hang, Match: all}, wantCode: 1, outHas: "likely cause: "},
		{lost: &lostReply{match: writes, first: 1}},
		{lost: &lostReply{match: writes, first: 1, code: 503}},
		{lost: &lostReply{match: writes, first: 1, code: 503, retryAfter: "1"}},
	}
	for i, tt := range tests {
		t.Run(tt.name(), func(t *testing.T) {
			run := fmt.Sprintf("faults-run-%d", i)
			wrap, injected, closeInj := tt.wrap()
			kubeconfig := kubeFaultProxy(t, s, wrap)
			t.Cleanup(closeInj)
			start := time.Now()
			r := runStep(t, "record-history", kxEnv(s, tn, "KUBECONFIG", kubeconfig, "STATUS", "Succeeded", "RELEASE_NAME", "release-"+run,
				"PIPELINE_RUN", run, "TIMEOUT", timeout.String()))
			elapsed := time.Since(start)
			assert.Equal(t, tt.wantCode, r.Code)
			assert.Positive(t, injected())
			assert.Less(t, elapsed, timeout+3*time.Second, "within TIMEOUT")
			entries := kxReadHistory(t, s, tn.Namespace, "release-history") // decodes, or fails the test
			mine := 0
			for _, e := range entries {
				if e.PipelineRun == run {
					mine++
					assert.Equal(t, "release-"+run, e.Release, "a complete entry")
					assert.Equal(t, "Succeeded", e.Status)
					assert.NotEmpty(t, e.Finished)
				}
			}
			if tt.wantCode == 0 {
				assert.Equal(t, 1, mine, "exactly one entry of the run")
				return
			}
			assert.Contains(t, r.Output, tt.outHas)
			assert.Equal(t, 0, mine, "no entry of a run whose write never reached the API server")
		})
	}
}
