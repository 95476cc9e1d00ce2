package vulnerabilities

import (
	"bytes"
	"context"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/release-to-prod/release-to-prod/pkg/clients/httpclient"
	"github.com/release-to-prod/release-to-prod/pkg/step"
	"github.com/release-to-prod/release-to-prod/pkg/step/failure"
	"github.com/release-to-prod/release-to-prod/test/sandbox"
)

const repo = "redhat-user-workloads/ns/app/comp"

var (
	idx = "sha256:" + strings.Repeat("1", 64)
	amd = "sha256:" + strings.Repeat("a", 64)
	arm = "sha256:" + strings.Repeat("b", 64)
	att = "sha256:" + strings.Repeat("c", 64)

	platforms = "linux/amd64=" + amd + ",linux/arm64=" + arm

	openssl = sandbox.QuayFeature{Name: "openssl", Version: "3.0.7-1", Vulnerabilities: []sandbox.QuayVulnerability{
		{Name: "CVE-2024-0001", Severity: "Critical", FixedBy: "3.0.7-2", Link: "https://access.redhat.com/security/cve/CVE-2024-0001"}}}
	curl = sandbox.QuayFeature{Name: "curl", Version: "7.76.1", Vulnerabilities: []sandbox.QuayVulnerability{
		{Name: "CVE-2023-0100", Severity: "High", Link: "https://access.redhat.com/security/cve/CVE-2023-0100"},
		{Name: "CVE-2023-0101", Severity: "High", FixedBy: "7.76.1-29"},
		{Name: "CVE-2023-0102", Severity: "Medium", FixedBy: "7.76.1-29"},
	}}
	zlib = sandbox.QuayFeature{Name: "zlib", Version: "1.2.11", Vulnerabilities: []sandbox.QuayVulnerability{
		{Name: "CVE-2022-0200", Severity: "Low"},
		{Name: "CVE-2022-0201", Severity: "Negligible"},
	}}
)

// quayServer serves the Quay stand-in on loopback as the sandbox does (under /api/v1/) and
// records the Authorization headers it receives.
type quayServer struct {
	*sandbox.QuayStub
	URL  string
	Host string

	mu   sync.Mutex
	auth []string
}

func newQuayServer(t *testing.T) *quayServer {
	t.Helper()
	q := &quayServer{QuayStub: sandbox.NewQuayStub()}
	mux := http.NewServeMux()
	mux.Handle("/api/v1/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q.mu.Lock()
		q.auth = append(q.auth, r.Header.Get("Authorization"))
		q.mu.Unlock()
		q.QuayStub.ServeHTTP(w, r)
	}))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	q.URL = srv.URL
	q.Host = strings.TrimPrefix(srv.URL, "http://")
	return q
}

func (q *quayServer) authHeaders() []string {
	q.mu.Lock()
	defer q.mu.Unlock()
	return append([]string(nil), q.auth...)
}

func config(q *quayServer) *Config {
	return &Config{
		ImageURL: q.Host + "/" + repo, ImageDigest: idx, QuayAPIURL: q.URL,
		FailOnCritical: "true", FailOnHigh: "false", Skip: "false",
		PollTimeout: time.Minute, PollInterval: time.Millisecond, RequestTimeout: 5 * time.Second,
	}
}

// runGate runs the step on cfg, with fast retries for the test.
func runGate(t *testing.T, cfg *Config) (string, map[string]string, error) {
	t.Helper()
	var out bytes.Buffer
	dir := t.TempDir()
	s := step.NewStep("check-vulnerabilities", &out, "text", dir)
	err := run(context.Background(), s, cfg, httpclient.WithBackoff(time.Millisecond, time.Millisecond))
	results := map[string]string{}
	for _, n := range []string{string(ResultScanOutput), string(ResultCriticalCount)} {
		if b, rerr := os.ReadFile(filepath.Join(dir, n)); rerr == nil {
			results[n] = string(b)
		}
	}
	return out.String(), results, err
}

func assertID(t *testing.T, want string, err error) {
	t.Helper()
	a, ok := failure.Explain(err)
	require.True(t, ok, "unclassified error: %v", err)
	assert.Equal(t, failure.ID(want), a.ID, "error: %v", err)
}

func scanOutput(all, unpatched Counts) string {
	return Tally{All: all, Unpatched: unpatched}.ScanOutput()
}

func TestGate(t *testing.T) {
	type replies map[string][]sandbox.Reply // digest → replies
	serverError := sandbox.Reply{Status: http.StatusInternalServerError, Body: `{"error":"boom"}`}
	tests := []struct {
		name      string
		replies   replies
		cfg       func(*Config)
		wantID    string // empty: passes
		errHas    []string
		outHas    []string
		outHasNot []string
		results   map[string]string // nil: none written
		calls     map[string]int
	}{
		{name: "scanned, high and below: passes",
			replies: replies{idx: {sandbox.QuayScanned(curl, zlib)}},
			outHas: []string{"  CVE-2023-0101 [high] curl 7.76.1, fixed in 7.76.1-29\n", "  CVE-2023-0100 [high] curl 7.76.1, no fix yet: https://access.redhat.com/security/cve/CVE-2023-0100\n",
				"✓ no critical vulnerabilities in " + "HOST/" + repo + "@" + idx + ": critical 0, high 2, medium 1, low 1, unknown 1 (unpatched: critical 0, high 1, medium 0, low 1, unknown 1)\n"},
			results: map[string]string{string(ResultScanOutput): scanOutput(Counts{0, 2, 1, 1, 1}, Counts{0, 1, 0, 1, 1}), string(ResultCriticalCount): "0"},
			calls:   map[string]int{idx: 1}},
		{name: "scanned with a critical: blocks",
			replies: replies{idx: {sandbox.QuayScanned(curl, openssl, zlib)}},
			wantID:  "critical-vulnerabilities",
			errHas:  []string{"HOST/" + repo + "@" + idx + " blocked by 1 critical vulnerability (1 fixable): critical 1, high 2"},
			outHas:  []string{"✗ CVE-2024-0001 [critical] openssl 3.0.7-1, fixed in 3.0.7-2: https://access.redhat.com/security/cve/CVE-2024-0001\n"},
			results: map[string]string{string(ResultScanOutput): scanOutput(Counts{1, 2, 1, 1, 1}, Counts{0, 1, 0, 1, 1}), string(ResultCriticalCount): "1"}},
		{name: "critical accepted with fail_on_critical=false",
			replies: replies{idx: {sandbox.QuayScanned(openssl)}},
			cfg:     func(c *Config) { c.FailOnCritical = "false" },
			outHas:  []string{"  CVE-2024-0001 [critical]", "! 1 critical vulnerabilities in HOST/" + repo + "@" + idx + " do not block: fail_on_critical=false\n"},
			results: map[string]string{string(ResultScanOutput): scanOutput(Counts{1, 0, 0, 0, 0}, Counts{}), string(ResultCriticalCount): "1"}},
		{name: "fail_on_high blocks on high",
			replies: replies{idx: {sandbox.QuayScanned(curl)}},
			cfg:     func(c *Config) { c.FailOnHigh = "true" },
			wantID:  "critical-vulnerabilities",
			errHas:  []string{"blocked by 2 high vulnerabilities (1 fixable): critical 0, high 2"},
			outHas:  []string{"✗ CVE-2023-0101 [high]", "  CVE-2023-0102 [medium]"},
			results: map[string]string{string(ResultScanOutput): scanOutput(Counts{0, 2, 1, 0, 0}, Counts{0, 1, 0, 0, 0}), string(ResultCriticalCount): "0"}},
		{name: "queued, then scanned: polls",
			replies: replies{idx: {sandbox.QuayStatus("queued"), sandbox.QuayStatus("queued"), sandbox.QuayScanned(zlib)}},
			outHas:  []string{"  scan queued for " + idx + " (elapsed ", "✓ no critical vulnerabilities"},
			results: map[string]string{string(ResultScanOutput): scanOutput(Counts{0, 0, 0, 1, 1}, Counts{0, 0, 0, 1, 1}), string(ResultCriticalCount): "0"},
			calls:   map[string]int{idx: 3}},
		{name: "still queued at the deadline",
			replies: replies{idx: {sandbox.QuayStatus("queued")}},
			cfg:     func(c *Config) { c.PollTimeout = 20 * time.Millisecond },
			wantID:  "scan-queued",
			errHas:  []string{"Quay's scan of HOST/" + repo + "@" + idx + " was still queued after", "(poll_timeout 20ms)"}},
		{name: "poll_timeout 0: one request",
			replies: replies{idx: {sandbox.QuayStatus("queued")}},
			cfg:     func(c *Config) { c.PollTimeout = 0 },
			wantID:  "scan-queued", calls: map[string]int{idx: 1}},
		{name: "index: every platform scanned, counts are the worst platform's",
			replies: replies{idx: {sandbox.QuayStatus("unsupported")}, amd: {sandbox.QuayScanned(curl, zlib)}, arm: {sandbox.QuayScanned(curl, sandbox.QuayFeature{Name: "glibc", Version: "2.34", Vulnerabilities: []sandbox.QuayVulnerability{{Name: "CVE-2025-0300", Severity: "Medium"}, {Name: "CVE-2025-0301", Severity: "Medium"}}})}},
			cfg:     func(c *Config) { c.PlatformDigests = platforms },
			outHas: []string{"  HOST/" + repo + "@" + idx + " is an index: Quay scans its platforms, not the index; scanning 2 platforms\n",
				"  linux/amd64    " + amd + ": critical 0, high 2, medium 1, low 1, unknown 1\n",
				"  linux/arm64    " + arm + ": critical 0, high 2, medium 3, low 0, unknown 0\n",
				"  CVE-2025-0300 [medium] glibc 2.34, no fix yet (linux/arm64 only)\n",
				"; worst of 2 platforms per severity\n"},
			outHasNot: []string{"CVE-2023-0100 [high] curl 7.76.1, no fix yet: https://access.redhat.com/security/cve/CVE-2023-0100 ("},
			results:   map[string]string{string(ResultScanOutput): scanOutput(Counts{0, 2, 3, 1, 1}, Counts{0, 1, 2, 1, 1}), string(ResultCriticalCount): "0"},
			calls:     map[string]int{idx: 1, amd: 1, arm: 1}},
		{name: "index: a critical only on arm64 blocks",
			replies: replies{idx: {sandbox.QuayStatus("unsupported")}, amd: {sandbox.QuayScanned(zlib)}, arm: {sandbox.QuayScanned(zlib, openssl)}},
			cfg:     func(c *Config) { c.PlatformDigests = platforms },
			wantID:  "critical-vulnerabilities",
			errHas:  []string{"blocked by 1 critical vulnerability (1 fixable): "},
			outHas:  []string{"✗ CVE-2024-0001 [critical] openssl 3.0.7-1, fixed in 3.0.7-2: https://access.redhat.com/security/cve/CVE-2024-0001 (linux/arm64 only)\n"},
			results: map[string]string{string(ResultScanOutput): scanOutput(Counts{1, 0, 0, 1, 1}, Counts{0, 0, 0, 1, 1}), string(ResultCriticalCount): "1"}},
		{name: "index: a platform queued, then scanned",
			replies: replies{idx: {sandbox.QuayStatus("unsupported")}, amd: {sandbox.QuayScanned()}, arm: {sandbox.QuayStatus("queued"), sandbox.QuayScanned()}},
			cfg:     func(c *Config) { c.PlatformDigests = platforms },
			outHas:  []string{"  scan queued for " + arm + " (elapsed "},
			results: map[string]string{string(ResultScanOutput): scanOutput(Counts{}, Counts{}), string(ResultCriticalCount): "0"},
			calls:   map[string]int{arm: 2}},
		{name: "index: one platform unsupported fails closed",
			replies: replies{idx: {sandbox.QuayStatus("unsupported")}, amd: {sandbox.QuayScanned(zlib)}, arm: {sandbox.QuayStatus("unsupported")}},
			cfg:     func(c *Config) { c.PlatformDigests = platforms },
			wantID:  "scan-unsupported",
			errHas:  []string{"Quay does not scan platform linux/arm64 (" + arm + ") of HOST/" + repo + ": status unsupported"}},
		{name: "index: one platform failed fails closed",
			replies: replies{idx: {sandbox.QuayStatus("unsupported")}, amd: {sandbox.QuayStatus("failed")}, arm: {sandbox.QuayScanned()}},
			cfg:     func(c *Config) { c.PlatformDigests = platforms },
			wantID:  "scan-failed",
			errHas:  []string{"Quay could not scan platform linux/amd64 (" + amd + ") of HOST/" + repo + ": status failed"},
			calls:   map[string]int{arm: 0}},
		{name: "index: a buildx attestation manifest is skipped",
			replies: replies{idx: {sandbox.QuayStatus("unsupported")}, amd: {sandbox.QuayScanned(zlib)}, att: {sandbox.QuayStatus("unsupported")}},
			cfg:     func(c *Config) { c.PlatformDigests = "linux/amd64=" + amd + ",unknown/unknown=" + att },
			outHas:  []string{"- unknown/unknown " + att + " not scanned: an attestation manifest, no image layers\n", "✓ no critical vulnerabilities"},
			results: map[string]string{string(ResultScanOutput): scanOutput(Counts{0, 0, 0, 1, 1}, Counts{0, 0, 0, 1, 1}), string(ResultCriticalCount): "0"}},
		{name: "index without platform digests fails closed",
			replies: replies{idx: {sandbox.QuayStatus("unsupported")}},
			wantID:  "scan-unsupported",
			errHas:  []string{"no per-platform digests were given: pass platform_digests"}},
		{name: "scan failed",
			replies: replies{idx: {sandbox.QuayStatus("failed")}},
			wantID:  "scan-failed", errHas: []string{"status failed"}},
		{name: "layer too large",
			replies: replies{idx: {sandbox.QuayStatus("manifest_layer_too_large")}},
			wantID:  "scan-failed", errHas: []string{"status manifest_layer_too_large"}},
		{name: "404: not in Quay",
			wantID: "scan-not-found",
			errHas: []string{"manifest " + idx + " not found in Quay repository " + repo, "404 Not Found"}},
		{name: "401",
			replies: replies{idx: {{Status: 401, Body: `{"error": "Invalid bearer token format"}`}}},
			wantID:  "unauthorized", errHas: []string{"401 Unauthorized"}},
		{name: "403",
			replies: replies{idx: {{Status: 403, Body: `{"detail": "Unauthorized", "status": 403}`}}},
			wantID:  "unauthorized", errHas: []string{"403 Forbidden"}},
		{name: "500 after retries fails closed",
			replies: replies{idx: {serverError}},
			wantID:  "server-error", errHas: []string{"500 Internal Server Error"},
			calls: map[string]int{idx: 4}},
		{name: "502 then scanned: retried",
			replies: replies{idx: {{Status: 502, Body: "bad gateway"}, sandbox.QuayScanned()}},
			results: map[string]string{string(ResultScanOutput): scanOutput(Counts{}, Counts{}), string(ResultCriticalCount): "0"},
			calls:   map[string]int{idx: 2}},
		{name: "malformed JSON fails closed",
			replies: replies{idx: {{Status: 200, Body: `{"status":"scanned","data":{"Layer":{"Features":[{"Name":`}}},
			wantID:  "scan-bad-reply", errHas: []string{"not a Quay security report"}},
		{name: "HTML page fails closed",
			replies: replies{idx: {{Status: 200, Body: "<html>login</html>", Header: map[string]string{"Content-Type": "text/html"}}}},
			wantID:  "scan-bad-reply"},
		{name: "scanned without data fails closed",
			replies: replies{idx: {{Status: 200, Body: `{"status":"scanned","data":null}`}}},
			wantID:  "scan-bad-reply"},
		{name: "many findings: capped",
			replies: replies{idx: {sandbox.QuayScanned(manyLow(30))}},
			outHas:  []string{"  … and 10 more\n"},
			results: map[string]string{string(ResultScanOutput): scanOutput(Counts{0, 0, 0, 30, 0}, Counts{0, 0, 0, 30, 0}), string(ResultCriticalCount): "0"}},
		{name: "skip",
			cfg:     func(c *Config) { c.Skip = "true"; c.ImageURL = "" },
			outHas:  []string{"- vulnerability gate skipped (skip=true)\n"},
			results: map[string]string{string(ResultScanOutput): `{"skipped":true}`, string(ResultCriticalCount): "skipped"},
			calls:   map[string]int{idx: 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := newQuayServer(t)
			for d, r := range tt.replies {
				q.SetSecurity(repo, d, r...)
			}
			cfg := config(q)
			if tt.cfg != nil {
				tt.cfg(cfg)
			}
			out, results, err := runGate(t, cfg)
			fix := func(s string) string { return strings.ReplaceAll(s, "HOST/", q.Host+"/") }
			if tt.wantID == "" {
				require.NoError(t, err, out)
			} else {
				require.Error(t, err, out)
				assertID(t, tt.wantID, err)
				for _, s := range tt.errHas {
					assert.Contains(t, err.Error(), fix(s))
				}
			}
			for _, s := range tt.outHas {
				assert.Contains(t, out, fix(s))
			}
			for _, s := range tt.outHasNot {
				assert.NotContains(t, out, fix(s))
			}
			if tt.results == nil {
				assert.Empty(t, results, "no results when the gate fails closed")
			} else {
				assert.Equal(t, tt.results, results)
			}
			for d, n := range tt.calls {
				assert.Equal(t, n, q.Calls(repo, d), "calls for %s", d)
			}
		})
	}
}

func manyLow(n int) sandbox.QuayFeature {
	f := sandbox.QuayFeature{Name: "pkg", Version: "1"}
	for i := range n {
		f.Vulnerabilities = append(f.Vulnerabilities, sandbox.QuayVulnerability{Name: "CVE-2020-" + strings.Repeat("0", 3) + string(rune('A'+i)), Severity: "Low"})
	}
	return f
}

func TestCriticalAdvice(t *testing.T) {
	q := newQuayServer(t)
	f := sandbox.QuayFeature{Name: "glibc", Version: "2.34"}
	for _, c := range []string{"CVE-2025-1", "CVE-2025-2", "CVE-2025-3", "CVE-2025-4", "CVE-2025-5", "CVE-2025-6"} {
		f.Vulnerabilities = append(f.Vulnerabilities, sandbox.QuayVulnerability{Name: c, Severity: "Critical"})
	}
	q.SetSecurity(repo, idx, sandbox.QuayScanned(f, curl))
	cfg := config(q)
	cfg.FailOnHigh = "true"
	_, _, err := runGate(t, cfg)
	require.Error(t, err)
	a, ok := failure.Explain(err)
	require.True(t, ok)
	assert.Equal(t, "Quay's scan of "+q.Host+"/"+repo+"@"+idx+" found 6 critical vulnerabilities (0 fixable) and 2 high vulnerabilities (1 fixable): CVE-2025-1, CVE-2025-2, CVE-2025-3, CVE-2025-4, CVE-2025-5, … (8 in all)", a.Cause)
	assert.Contains(t, a.Fix, "re-run with fail_on_critical=false and fail_on_high=false for this run, approved by")
}

func TestAuth(t *testing.T) {
	const token = "s3cr3t-quay-oauth-token"
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	require.NoError(t, os.WriteFile(tokenFile, []byte(token+"\n"), 0o600))
	dockerConfig := func(host string) string {
		p := filepath.Join(t.TempDir(), "config.json")
		auth := base64.StdEncoding.EncodeToString([]byte("ns+robot:r0b0t-pass"))
		require.NoError(t, os.WriteFile(p, []byte(`{"auths":{"`+host+`":{"auth":"`+auth+`"}}}`), 0o600))
		return p
	}
	robot := "Basic " + base64.StdEncoding.EncodeToString([]byte("ns+robot:r0b0t-pass"))
	tests := []struct {
		name     string
		cfg      func(c *Config, q *quayServer)
		reply    sandbox.Reply
		wantAuth string
		wantID   string
		outHas   []string
		secret   string // in the advice
	}{
		{name: "token file as bearer", cfg: func(c *Config, _ *quayServer) { c.TokenFile = tokenFile },
			reply: sandbox.QuayScanned(zlib), wantAuth: "Bearer " + token},
		{name: "token rejected names the token file", cfg: func(c *Config, _ *quayServer) { c.TokenFile = tokenFile },
			reply: sandbox.Reply{Status: 401, Body: `{"error":"invalid token"}`}, wantAuth: "Bearer " + token, wantID: "unauthorized", secret: "the OAuth token in file " + tokenFile},
		{name: "token and docker config both bound: the token is used, and said", cfg: func(c *Config, q *quayServer) {
			c.TokenFile = tokenFile
			c.DockerConfigFile = dockerConfig(q.Host)
		}, reply: sandbox.QuayScanned(zlib), wantAuth: "Bearer " + token, outHas: []string{"using the Quay OAuth token"}},
		{name: "a reply echoing the refused token does not print it", cfg: func(c *Config, _ *quayServer) { c.TokenFile = tokenFile },
			reply: sandbox.Reply{Status: 401, Body: `{"error":"invalid token ` + token + `"}`}, wantAuth: "Bearer " + token, wantID: "unauthorized", secret: "the OAuth token in file " + tokenFile},
		{name: "token Secret absent under its default name: not configured", cfg: func(c *Config, _ *quayServer) {
			c.TokenFile, c.TokenSecret = filepath.Join(t.TempDir(), "token"), "release-to-prod-quay-token"
		}, reply: sandbox.QuayScanned(zlib), wantAuth: ""},
		{name: "token from its Secret, named in the advice", cfg: func(c *Config, _ *quayServer) { c.TokenFile, c.TokenSecret = tokenFile, "my-quay-token" },
			reply: sandbox.Reply{Status: 401, Body: `{}`}, wantAuth: "Bearer " + token, wantID: "unauthorized", secret: "the OAuth token in Secret my-quay-token (key " + filepath.Base(tokenFile) + ")"},
		{name: "robot from docker config, entry for the repository's host", cfg: func(c *Config, q *quayServer) { c.DockerConfigFile = dockerConfig(q.Host) },
			reply: sandbox.QuayScanned(zlib), wantAuth: robot},
		{name: "robot from docker config, entry for a repository prefix", cfg: func(c *Config, q *quayServer) {
			c.DockerConfigFile = dockerConfig(q.Host + "/redhat-user-workloads/ns")
		},
			reply: sandbox.QuayScanned(zlib), wantAuth: robot},
		{name: "robot from docker config, entry for the API host", cfg: func(c *Config, q *quayServer) {
			c.ImageURL = "quay.io/" + repo
			c.DockerConfigFile = dockerConfig(q.Host)
		}, reply: sandbox.QuayScanned(zlib), wantAuth: robot},
		{name: "the image's entry never goes to another host", cfg: func(c *Config, q *quayServer) {
			c.ImageURL = "quay.io/" + repo
			c.DockerConfigFile = dockerConfig("quay.io")
		}, reply: sandbox.QuayScanned(zlib), wantAuth: "", outHas: []string{"! no entry for 127.0.0.1:"}},
		{name: "the token never goes to another host than the image's", cfg: func(c *Config, q *quayServer) {
			c.ImageURL = "quay.io/" + repo
			c.TokenFile = tokenFile
		}, reply: sandbox.QuayScanned(zlib), wantAuth: "", outHas: []string{"! the Quay OAuth token is not sent: quay_api_url's host 127.0.0.1:"}},
		{name: "docker config without an entry: anonymous, said", cfg: func(c *Config, _ *quayServer) { c.DockerConfigFile = dockerConfig("registry.example.com") },
			reply: sandbox.QuayScanned(zlib), wantAuth: "", outHas: []string{"! no entry for 127.0.0.1:"}},
		{name: "none: anonymous; 403 says none was given", cfg: func(*Config, *quayServer) {},
			reply: sandbox.Reply{Status: 403, Body: `{}`}, wantAuth: "", wantID: "unauthorized", secret: "(none was given"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := newQuayServer(t)
			q.SetSecurity(repo, idx, tt.reply)
			cfg := config(q)
			tt.cfg(cfg, q)
			out, _, err := runGate(t, cfg)
			if tt.wantID == "" {
				require.NoError(t, err, out)
			} else {
				require.Error(t, err)
				assertID(t, tt.wantID, err)
				a, _ := failure.Explain(err)
				assert.Contains(t, a.Fix, tt.secret)
				assert.Contains(t, a.Cause, "Quay (127.0.0.1:")
				assert.NotContains(t, a.Cause+a.Fix+err.Error(), token)
			}
			for _, s := range tt.outHas {
				assert.Contains(t, out, s)
			}
			got := q.authHeaders()
			require.NotEmpty(t, got)
			for _, h := range got {
				assert.Equal(t, tt.wantAuth, h)
			}
			assert.NotContains(t, out, token)
			assert.NotContains(t, out, "r0b0t-pass")
		})
	}
}

func TestConfigInvalid(t *testing.T) {
	q := newQuayServer(t)
	emptyFile := filepath.Join(t.TempDir(), "empty")
	require.NoError(t, os.WriteFile(emptyFile, nil, 0o600))
	tokenFile := filepath.Join(t.TempDir(), "token")
	require.NoError(t, os.WriteFile(tokenFile, []byte("tok"), 0o600))
	tests := []struct {
		name string
		cfg  func(*Config)
		err  string
	}{
		{"empty image url", func(c *Config) { c.ImageURL = "" }, "staging_image (STAGING_IMAGE) is empty"},
		{"bad digest", func(c *Config) { c.ImageDigest = "latest" }, "pinned_digest"},
		{"bad platforms", func(c *Config) { c.PlatformDigests = "linux/amd64" }, "platform_digests"},
		{"http to a remote host", func(c *Config) { c.QuayAPIURL = "http://quay.io" }, "plain http"},
		{"bad bool", func(c *Config) { c.FailOnCritical = "yes" }, `fail_on_critical "yes" is not true or false`},
		{"bad skip", func(c *Config) { c.Skip = "maybe" }, `skip "maybe"`},
		{"zero interval", func(c *Config) { c.PollInterval = 0 }, "poll_interval 0s"},
		{"missing token file", func(c *Config) { c.TokenFile = "/nonexistent/token" }, "token_file"},
		{"empty token file", func(c *Config) { c.TokenFile = emptyFile }, "is empty"},
		{"missing docker config", func(c *Config) { c.DockerConfigFile = "/nonexistent/config.json" }, "no such file"},
		{"docker config not JSON", func(c *Config) { c.DockerConfigFile = tokenFile }, "not valid JSON"},
		{"missing CA file", func(c *Config) { c.CAFile = "/nonexistent/ca.crt" }, "ca_file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := config(q)
			tt.cfg(cfg)
			_, _, err := runGate(t, cfg)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.err)
			assertID(t, "invalid-input", err)
		})
	}
	assert.Equal(t, 0, q.Calls(repo, idx), "nothing is sent when the config is invalid")
}

func TestCancelledWhilePolling(t *testing.T) {
	q := newQuayServer(t)
	q.SetSecurity(repo, idx, sandbox.QuayStatus("queued"))
	cfg := config(q)
	cfg.PollInterval = time.Hour
	s := step.NewStep("check-vulnerabilities", &bytes.Buffer{}, "text", t.TempDir())
	g, err := cfg.Gate(s)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		// cancel once the first poll was answered: the gate is then waiting
		for q.Calls(repo, idx) == 0 {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	err = g.Check(ctx, s)
	require.ErrorIs(t, err, context.Canceled)
}

func TestSameHost(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		same bool
	}{
		{"quay.io", "quay.io", true},
		{"Quay.IO", "quay.io:443", true},
		{"quay.io", "quay.io.evil.example", false},
		{"127.0.0.1:5000", "127.0.0.1:5001", false},
		{"quay.io", "", false},
	} {
		assert.Equal(t, tt.same, SameHost(tt.a, tt.b), "%s %s", tt.a, tt.b)
	}
}
