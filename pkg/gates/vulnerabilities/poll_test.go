package vulnerabilities

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/release-to-prod/release-to-prod/test/sandbox"
)

// TestPlatformsPolledTogether: two platforms queued twice each are polled side by side, not one
// after the other: each platform's second poll comes before either's third (which backs off to
// twice the interval), so the wait is that of the slowest platform, not the sum.
func TestPlatformsPolledTogether(t *testing.T) {
	stub := sandbox.NewQuayStub()
	var mu sync.Mutex
	var order []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, d := range []string{idx, amd, arm} {
			if strings.Contains(r.URL.Path, d) {
				mu.Lock()
				order = append(order, d)
				mu.Unlock()
			}
		}
		stub.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	q := &quayServer{QuayStub: stub, URL: srv.URL, Host: strings.TrimPrefix(srv.URL, "http://")}
	queued := sandbox.QuayStatus("queued")
	q.SetSecurity(repo, idx, sandbox.QuayStatus("unsupported"))
	q.SetSecurity(repo, amd, queued, queued, queued, sandbox.QuayScanned(zlib))
	q.SetSecurity(repo, arm, queued, queued, queued, sandbox.QuayScanned(zlib))
	cfg := config(q)
	cfg.PlatformDigests = platforms
	cfg.PollInterval = 100 * time.Millisecond
	out, _, err := runGate(t, cfg)
	require.NoError(t, err, out)

	mu.Lock()
	defer mu.Unlock()
	nth := func(d string, n int) int { // index in order of the n-th request for d (1-based)
		seen := 0
		for i, o := range order {
			if o == d {
				if seen++; seen == n {
					return i
				}
			}
		}
		t.Fatalf("no request %d for %s in %v", n, d, order)
		return -1
	}
	assert.Equal(t, 4, q.Calls(repo, amd))
	assert.Equal(t, 4, q.Calls(repo, arm))
	assert.Less(t, nth(arm, 2), nth(amd, 3), "arm is polled while amd backs off: %v", order)
	assert.Less(t, nth(amd, 2), nth(arm, 3), "amd is polled while arm backs off: %v", order)
	assert.True(t, slices.Contains(order, idx))
}
