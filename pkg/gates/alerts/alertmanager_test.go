package alerts

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/release-to-prod/release-to-prod/pkg/step"
	"github.com/release-to-prod/release-to-prod/test/sandbox"
)

// runStep runs the step in-process through the step runtime, as the binary would.
func runStep(t *testing.T, args ...string) (int, string, map[string]string) {
	t.Helper()
	dir := t.TempDir()
	var out bytes.Buffer
	code := step.Run(context.Background(), "check-alerts", append(args, "--results-dir="+dir, "--timeout=10s"), &out, &Config{}, Run)
	return code, out.String(), readResults(t, dir)
}

var highErrorRate = sandbox.AlertmanagerAlert{
	Labels:      map[string]string{"alertname": "HighErrorRate", "environment": "production", "severity": "critical", "namespace": "payments"},
	Annotations: map[string]string{"summary": "5% of checkout requests fail"},
}

// TestAgainstAlertmanager drives one real Alertmanager through the cases that matter: nothing
// firing, a staging alert, a firing production alert, a severity filter, and a silence.
func TestAgainstAlertmanager(t *testing.T) {
	if testing.Short() {
		t.Skip("sandbox: needs the real Alertmanager")
	}
	am := sandbox.StartAlertmanager(t)
	url := "--alertmanager-url=" + am.URL

	code, out, res := runStep(t, url)
	assert.Equal(t, step.ExitOK, code, out)
	assert.Contains(t, out, `✓ no firing production alerts (matchers environment="production")`)
	assert.Equal(t, map[string]string{string(ResultFiring): "0", string(ResultNames): ""}, res)

	am.PostAlerts(t, sandbox.AlertmanagerAlert{Labels: map[string]string{"alertname": "StagingDown", "environment": "staging", "severity": "critical"}})
	code, out, _ = runStep(t, url)
	assert.Equal(t, step.ExitOK, code, "a staging alert does not block: %s", out)

	am.PostAlerts(t, highErrorRate)
	code, out, res = runStep(t, url)
	assert.Equal(t, step.ExitFailed, code, out)
	assert.Regexp(t, `(?m)^✗ HighErrorRate \[critical\] namespace=payments since \S+Z: 5% of checkout requests fail$`, out)
	assert.NotContains(t, out, "StagingDown")
	assert.Contains(t, out, "✗ check-alerts failed: 1 firing production alert blocks the release")
	assert.Contains(t, out, `likely cause: 1 alert is firing in production (environment="production"): HighErrorRate`)
	assert.Contains(t, out, "fix: resolve them, or silence them in Alertmanager if they are unrelated to this release, then re-run")
	assert.Equal(t, map[string]string{string(ResultFiring): "1", string(ResultNames): "HighErrorRate"}, res)

	code, out, _ = runStep(t, url, "--severity=warning")
	assert.Equal(t, step.ExitOK, code, "only warnings block, none fire: %s", out)
	assert.Contains(t, out, `(matchers environment="production",severity="warning")`)

	code, out, _ = runStep(t, url, `--matchers=environment="production",namespace=~"pay.*"`, "--severity=critical,warning")
	assert.Equal(t, step.ExitFailed, code, out)

	am.Silence(t, map[string]string{"alertname": "HighErrorRate", "environment": "production"}, "known, unrelated to this release")
	code, out, res = runStep(t, url)
	assert.Equal(t, step.ExitOK, code, "a silenced alert does not block: %s", out)
	assert.Equal(t, "0", res[string(ResultFiring)])

	// Down: the same URL with nothing listening blocks, with network advice.
	am.Stop()
	code, out, _ = runStep(t, url)
	assert.Equal(t, step.ExitFailed, code, out)
	assert.Contains(t, out, "connection refused")
	assert.Contains(t, out, "likely cause: cannot reach 127.0.0.1:")
	assert.Contains(t, out, "the gate fails closed until it is reachable")
}

// TestAlertmanagerToken puts a loopback proxy that checks a bearer token in front of the real
// Alertmanager, as OpenShift's kube-rbac-proxy does.
func TestAlertmanagerToken(t *testing.T) {
	if testing.Short() {
		t.Skip("sandbox: needs the real Alertmanager")
	}
	am := sandbox.StartAlertmanager(t)
	am.PostAlerts(t, highErrorRate)
	target, err := url.Parse(am.URL)
	require.NoError(t, err)
	proxy := httputil.NewSingleHostReverseProxy(target)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Header.Get("Authorization") {
		case "":
			http.Error(w, "Unauthorized", http.StatusUnauthorized)
		case "Bearer good-token":
			proxy.ServeHTTP(w, r)
		default:
			http.Error(w, "Forbidden (user=system:serviceaccount:tenant:release-bot, verb=get, resource=alertmanagers)", http.StatusForbidden)
		}
	}))
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	good, bad := filepath.Join(dir, "good"), filepath.Join(dir, "bad")
	require.NoError(t, os.WriteFile(good, []byte("good-token\n"), 0o600))
	require.NoError(t, os.WriteFile(bad, []byte("expired-token"), 0o600))

	tests := []struct {
		name      string
		args      []string
		wantCode  int
		outHas    []string
		outHasNot []string
	}{
		{name: "right token reaches Alertmanager", args: []string{"--token-file=" + good}, wantCode: step.ExitFailed,
			outHas: []string{"✗ HighErrorRate [critical]"}},
		{name: "wrong token", args: []string{"--token-file=" + bad}, wantCode: step.ExitFailed,
			outHas: []string{"403 Forbidden", "likely cause: Alertmanager answered 403 Forbidden: the token lacks the monitoring role",
				"fix: grant the ServiceAccount whose token is Secret release-to-prod-monitoring-token (key " + filepath.Base(bad) + ") the cluster role cluster-monitoring-view"},
			outHasNot: []string{"expired-token"}},
		{name: "no token", args: nil, wantCode: step.ExitFailed,
			outHas: []string{"401 Unauthorized", "likely cause: Alertmanager rejected the credentials", "create the Secret release-to-prod-monitoring-token with the token"}},
		{name: "no token Secret under its default name: not configured", args: []string{"--token-file=" + filepath.Join(t.TempDir(), "monitoring-token", "token")}, wantCode: step.ExitFailed,
			outHas: []string{"monitoring token not configured", "401 Unauthorized"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, _ := runStep(t, append(tt.args, "--alertmanager-url="+srv.URL)...)
			assert.Equal(t, tt.wantCode, code, out)
			for _, h := range tt.outHas {
				assert.Contains(t, out, h)
			}
			for _, h := range tt.outHasNot {
				assert.NotContains(t, out, h)
			}
		})
	}
}
