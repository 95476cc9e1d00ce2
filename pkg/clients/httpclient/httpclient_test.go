package httpclient

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/release-to-prod/release-to-prod/pkg/step/failure"
)

func TestDoRetries(t *testing.T) {
	tests := []struct {
		name      string
		method    string
		failFirst int
		status    int
		header    map[string]string
		wantCode  int
		wantCalls int32
	}{
		{name: "503 then ok", method: "GET", failFirst: 2, status: 503, wantCode: 200, wantCalls: 3},
		{name: "429 with Retry-After", method: "GET", failFirst: 1, status: 429, header: map[string]string{"Retry-After": "0"}, wantCode: 200, wantCalls: 2},
		{name: "persistent 500", method: "GET", failFirst: 100, status: 500, wantCode: 500, wantCalls: 3},
		{name: "404 not retried", method: "GET", failFirst: 100, status: 404, wantCode: 404, wantCalls: 1},
		{name: "POST not retried", method: "POST", failFirst: 100, status: 503, wantCode: 503, wantCalls: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var calls atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				n := calls.Add(1)
				if int(n) <= tt.failFirst {
					for k, v := range tt.header {
						w.Header().Set(k, v)
					}
					w.WriteHeader(tt.status)
					return
				}
				_, _ = w.Write([]byte("ok"))
			}))
			defer srv.Close()
			c, err := New("Test", WithAttempts(3), WithBackoff(time.Millisecond, 5*time.Millisecond))
			require.NoError(t, err)
			resp, err := c.Do(context.Background(), tt.method, srv.URL, nil, nil)
			require.NoError(t, err)
			assert.Equal(t, tt.wantCode, resp.Code)
			assert.Equal(t, tt.wantCalls, calls.Load())
		})
	}
}

func TestDoHangingServerTimesOut(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	c, err := New("Test", WithAttempts(2), WithTimeout(20*time.Millisecond), WithBackoff(time.Millisecond, 0))
	require.NoError(t, err)
	_, err = c.Do(context.Background(), "GET", srv.URL+"/x?token=secret", nil, nil)
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "secret", "query strings never reach messages")
	a, ok := failure.Explain(err)
	require.True(t, ok, err.Error())
	assert.Equal(t, failure.Timeout, a.ID)
}

func TestDoCancelledDuringBackoff(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "3600")
		w.WriteHeader(429)
	}))
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	c, err := New("Test", WithAttempts(5), WithBackoff(0, time.Hour))
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { _, err := c.Do(ctx, "GET", srv.URL, nil, nil); done <- err }()
	cancel()
	err = <-done
	require.ErrorIs(t, err, context.Canceled)
}

func TestStatusErrorAndRedact(t *testing.T) {
	c, err := New("Quay")
	require.NoError(t, err)
	err = c.StatusError("GET", "https://user:pw@quay.io/api/v1/x?token=abc", &Response{Code: 401, Body: []byte("  {\"error\":\n \"denied\"} ")})
	assert.Equal(t, `Quay: GET https://quay.io/api/v1/x: 401 Unauthorized: {"error": "denied"}`, err.Error())
	a, ok := failure.Explain(err)
	require.True(t, ok)
	assert.Equal(t, failure.Unauthorized, a.ID)
}

func TestBearerFromFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "token")
	require.NoError(t, os.WriteFile(p, []byte("tok123\n"), 0o600))
	opt, err := BearerFromFile(p)
	require.NoError(t, err)
	c, err := New("Quay", opt)
	require.NoError(t, err)
	r, _ := http.NewRequest("GET", "http://x", nil)
	c.auth(r)
	assert.Equal(t, "Bearer tok123", r.Header.Get("Authorization"))

	// A server that echoes the refused token does not get it into the error.
	serr := c.StatusError("GET", "https://quay.io/x", &Response{Code: 401, Body: []byte(`{"error":"bad token tok123"}`)})
	assert.NotContains(t, serr.Error(), "tok123")
	assert.Contains(t, serr.Error(), "[redacted]")

	require.NoError(t, os.WriteFile(p, []byte(" \n"), 0o600))
	_, err = BearerFromFile(p)
	assert.ErrorContains(t, err, "empty")
	_, err = BearerFromFile(filepath.Join(dir, "missing"))
	assert.Error(t, err)
}

func TestCAFile(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("hi")) }))
	defer srv.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	require.NoError(t, os.WriteFile(ca, pemOf(srv), 0o600))
	c, err := New("T", WithCAFile(ca))
	require.NoError(t, err)
	resp, err := c.Do(context.Background(), "GET", srv.URL, nil, nil)
	require.NoError(t, err)
	assert.Equal(t, "hi", string(resp.Body))

	plain, err := New("T", WithAttempts(1))
	require.NoError(t, err)
	_, err = plain.Do(context.Background(), "GET", srv.URL, nil, nil)
	a, ok := failure.Explain(err)
	require.True(t, ok, "%v", err)
	assert.Equal(t, failure.TLS, a.ID)
}

// TestIsLoopback pins the plain-HTTP rule: loopback only, never a private network.
func TestIsLoopback(t *testing.T) {
	tests := []struct {
		host string
		want bool
	}{
		{"127.0.0.1", true},
		{"127.0.0.1:9093", true},
		{"127.255.255.254", true},
		{"127.1.2.3:5000", true},
		{"::1", true},
		{"[::1]", true},
		{"[::1]:9093", true},
		{"localhost", true},
		{"localhost:9093", true},
		{"LocalHost", true},
		{"::ffff:127.0.0.1", true}, // IPv4-mapped loopback is the same address
		{"", false},
		{"10.0.0.1", false},
		{"10.0.0.1:5000", false},
		{"192.168.1.10", false},
		{"172.16.0.1", false},
		{"169.254.0.1", false},
		{"0.0.0.0", false},
		{"::", false},
		{"fe80::1", false},
		{"128.0.0.1", false},
		{"quay.io", false},
		{"alertmanager.monitoring.svc:9093", false},
		{"localhost.evil.com", false},
		{"evil.localhost", false},
		{"127.0.0.1.nip.io", false},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, IsLoopback(tt.host), tt.host)
	}
}

// TestOptionsDefaults: a zero option keeps the default, so callers pass their settings as they
// come and the defaults stay in New.
func TestOptionsDefaults(t *testing.T) {
	tests := []struct {
		name              string
		opts              []Option
		attempts          int
		timeout, base, mx time.Duration
	}{
		{name: "none", attempts: DefaultAttempts, timeout: DefaultTimeout, base: DefaultBaseBackoff, mx: DefaultMaxBackoff},
		{name: "zeros keep the defaults", opts: []Option{WithAttempts(0), WithTimeout(0), WithBackoff(0, 0)},
			attempts: DefaultAttempts, timeout: DefaultTimeout, base: DefaultBaseBackoff, mx: DefaultMaxBackoff},
		{name: "set", opts: []Option{WithAttempts(2), WithTimeout(time.Second), WithBackoff(time.Millisecond, 10*time.Second)},
			attempts: 2, timeout: time.Second, base: time.Millisecond, mx: 10 * time.Second},
		{name: "cap only", opts: []Option{WithBackoff(0, 10*time.Second)},
			attempts: DefaultAttempts, timeout: DefaultTimeout, base: DefaultBaseBackoff, mx: 10 * time.Second},
	}
	for _, tt := range tests {
		c, err := New("T", tt.opts...)
		require.NoError(t, err, tt.name)
		assert.Equal(t, []any{tt.attempts, tt.timeout, tt.base, tt.mx}, []any{c.attempts, c.timeout, c.baseBackoff, c.maxBackoff}, tt.name)
	}
}

// TestCABundleKeys: the CA bundle's path names ca.crt; mounted from Konflux's trusted-ca
// ConfigMap it holds ca-bundle.crt instead, which is read; with neither, the error names the
// folder and the keys (no TLS error later, no hang).
func TestCABundleKeys(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("hi")) }))
	defer srv.Close()
	for _, tc := range []struct {
		name, key, errHas string
	}{
		{"ca.crt", "ca.crt", ""},
		{"Konflux trusted-ca: ca-bundle.crt", "ca-bundle.crt", ""},
		{"neither", "other.pem", "holds none of the keys ca.crt, ca-bundle.crt, service-ca.crt"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			require.NoError(t, os.WriteFile(filepath.Join(dir, tc.key), pemOf(srv), 0o600))
			c, err := New("T", WithCAFile(filepath.Join(dir, "ca.crt")))
			if tc.errHas != "" {
				require.ErrorContains(t, err, tc.errHas)
				assert.ErrorContains(t, err, dir)
				return
			}
			require.NoError(t, err)
			resp, err := c.Do(context.Background(), "GET", srv.URL, nil, nil)
			require.NoError(t, err)
			assert.Equal(t, "hi", string(resp.Body))
		})
	}
}
