package alerts

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/release-to-prod/release-to-prod/pkg/clients/httpclient"
	"github.com/release-to-prod/release-to-prod/pkg/step"
	"github.com/release-to-prod/release-to-prod/pkg/step/failure"
)

// fakeSource returns canned alerts, applying the matchers as the real sources do.
type fakeSource struct {
	alerts []Alert
	err    error
}

func (f *fakeSource) Name() string { return "Alertmanager" }

func (f *fakeSource) Firing(_ context.Context, ms Matchers) ([]Alert, error) {
	return firingMatching(f.alerts, ms), f.err
}

var t0 = time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)

func alert(name, sev, env string, since time.Time, summary string) Alert {
	labels := map[string]string{"alertname": name, "environment": env, "namespace": "payments"}
	if sev != "" {
		labels["severity"] = sev
	}
	return Alert{Name: name, Labels: labels, Annotations: map[string]string{"summary": summary}, State: "active", Firing: true, Since: since}
}

func readResults(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, n := range []string{string(ResultFiring), string(ResultNames)} {
		b, err := os.ReadFile(filepath.Join(dir, n))
		if err == nil {
			out[n] = string(b)
		}
	}
	return out
}

func TestCheck(t *testing.T) {
	many := make([]Alert, 25)
	for i := range many {
		many[i] = alert(fmt.Sprintf("Alert%02d", i), "warning", "production", t0.Add(time.Duration(i)*time.Minute), "")
	}
	tests := []struct {
		name        string
		alerts      []Alert
		err         error
		matchers    string
		wantErrID   failure.ID
		wantResults map[string]string
		outHas      []string
		outHasNot   []string
		lines       int
	}{
		{name: "clear", matchers: `environment="production"`,
			alerts:      []Alert{alert("Staging", "critical", "staging", t0, "")},
			wantResults: map[string]string{string(ResultFiring): "0", string(ResultNames): ""},
			outHas:      []string{`✓ no firing production alerts (matchers environment="production")`}},
		{name: "firing sorted by severity", matchers: `environment="production"`,
			alerts: []Alert{
				alert("DiskFilling", "warning", "production", t0, "disk 91% full"),
				alert("HighErrorRate", "critical", "production", t0.Add(time.Minute), "5% of requests fail"),
				alert("HighErrorRate", "critical", "production", t0.Add(2*time.Minute), "again"),
			},
			wantErrID:   failure.AlertsFiring,
			wantResults: map[string]string{string(ResultFiring): "3", string(ResultNames): "HighErrorRate,DiskFilling"},
			outHas: []string{
				"✗ HighErrorRate [critical] namespace=payments since 2024-05-01T10:01:00Z (for 59m): 5% of requests fail\n",
				"✗ DiskFilling [warning] namespace=payments since 2024-05-01T10:00:00Z (for 1h0m): disk 91% full\n",
				"3 firing production alerts block the release",
			},
			outHasNot: []string{"environment=production"}, // fixed by the matcher, not repeated
			lines:     3},
		{name: "capped to a screenful", matchers: `environment="production"`, alerts: many,
			wantErrID:   failure.AlertsFiring,
			wantResults: map[string]string{string(ResultFiring): "25"},
			outHas:      []string{"✗ Alert00 ", "✗ Alert19 ", "… and 5 more firing alerts"},
			outHasNot:   []string{"✗ Alert20 "},
			lines:       MaxLines},
		{name: "source down fails closed", matchers: `environment="production"`,
			err:       errors.New("dial tcp 127.0.0.1:9: connect: connection refused"),
			outHasNot: []string{"✓"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ms, err := ParseMatchers(tt.matchers)
			require.NoError(t, err)
			var out bytes.Buffer
			dir := t.TempDir()
			s := step.NewStep("check-alerts", &out, "text", dir)
			g := &Gate{Source: &fakeSource{alerts: tt.alerts, err: tt.err}, Matchers: ms, Now: func() time.Time { return t0.Add(time.Hour) }}
			err = g.Check(context.Background(), s)
			switch {
			case tt.err != nil:
				require.Error(t, err)
				assert.Contains(t, err.Error(), "listing firing alerts from Alertmanager")
			case tt.wantErrID != "":
				require.Error(t, err)
				a, ok := failure.Explain(err)
				require.True(t, ok)
				assert.Equal(t, tt.wantErrID, a.ID)
				assert.Contains(t, a.Cause, "firing in production (environment=\"production\")")
				assert.Contains(t, a.Fix, "silence them in Alertmanager")
			default:
				require.NoError(t, err)
			}
			for _, h := range tt.outHas {
				assert.Contains(t, out.String()+errText(err), h)
			}
			for _, h := range tt.outHasNot {
				assert.NotContains(t, out.String(), h)
			}
			if tt.lines > 0 {
				assert.Equal(t, tt.lines, strings.Count(out.String(), "✗ "))
			}
			got := readResults(t, dir)
			for k, v := range tt.wantResults {
				assert.Equal(t, v, got[k], k)
			}
		})
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestRun(t *testing.T) {
	tests := []struct {
		name      string
		cfg       Config
		wantCode  int
		outHas    []string
		wantNames string
	}{
		{name: "skip", cfg: Config{Skip: "true"}, outHas: []string{"- alerts gate skipped (skip=true)"}, wantNames: "skipped"},
		{name: "skip TRUE", cfg: Config{Skip: "TRUE", URL: "http://127.0.0.1:1"}, wantNames: "skipped"},
		{name: "skip bad", cfg: Config{Skip: "yes"}, wantCode: step.ExitBadArgs, outHas: []string{`skip "yes" is not true or false`}},
		{name: "no url", cfg: Config{}, wantCode: step.ExitBadArgs, outHas: []string{"url (ALERTMANAGER_URL) is empty"}},
		{name: "bad url", cfg: Config{URL: "alertmanager:9093"}, wantCode: step.ExitBadArgs, outHas: []string{"not an http(s) URL"}},
		{name: "bad matchers", cfg: Config{URL: "https://am", Matchers: `env="prod`}, wantCode: step.ExitBadArgs, outHas: []string{"unterminated"}},
		{name: "empty matchers", cfg: Config{URL: "https://am", Matchers: ``}, wantCode: step.ExitBadArgs, outHas: []string{"no matcher given"}},
		{name: "bad source", cfg: Config{URL: "https://am", Source: "grafana"}, wantCode: step.ExitBadArgs, outHas: []string{`source "grafana"`}},
		{name: "missing token file", cfg: Config{URL: "https://am", TokenFile: "/nonexistent/token"},
			wantCode: step.ExitBadArgs, outHas: []string{"token_file: reading secret file"}},
		{name: "token over plain http", cfg: Config{URL: "http://am.example.com", TokenFile: "/nonexistent/token"},
			wantCode: step.ExitBadArgs, outHas: []string{"refusing to send the token in clear text"}},
		{name: "missing CA file", cfg: Config{URL: "https://am", CABundle: httpclient.CABundle{CAFile: "/nonexistent/ca.crt"}},
			wantCode: step.ExitBadArgs, outHas: []string{"ca_file: reading CA bundle"}},
		{name: "Secret and ConfigMap absent under their default names: not configured", cfg: Config{URL: "http://127.0.0.1:1",
			TokenFile: "/nonexistent/monitoring-token/token", TokenSecret: "release-to-prod-monitoring-token",
			CABundle: httpclient.CABundle{CAFile: "/nonexistent/ca-bundle/ca-bundle.crt", CAConfigMap: "trusted-ca"}},
			wantCode: step.ExitFailed, outHas: []string{"monitoring token not configured (no Secret release-to-prod-monitoring-token in this namespace; monitoring_token_secret names another): no token",
				"CA bundle not configured (no ConfigMap trusted-ca", "connection refused", "likely cause: cannot reach 127.0.0.1:1"}},
		{name: "a Secret the user named is absent", cfg: Config{URL: "https://am", TokenFile: "/nonexistent/monitoring-token/token", TokenSecret: "my-token"},
			wantCode: step.ExitBadArgs, outHas: []string{"Secret my-token (param monitoring_token_secret), key token: does not exist",
				"kubectl create secret generic my-token --from-file=token=<file>"}},
		{name: "a CA ConfigMap the user named is absent", cfg: Config{URL: "https://am", CABundle: httpclient.CABundle{CAFile: "/nonexistent/ca-bundle/ca-bundle.crt", CAConfigMap: "my-ca"}},
			wantCode: step.ExitBadArgs, outHas: []string{"ConfigMap my-ca (param ca_bundle_configmap), key ca-bundle.crt: does not exist",
				"kubectl create configmap my-ca --from-file=ca-bundle.crt=<file>"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			if cfg.Matchers == "" && tt.name != "empty matchers" {
				cfg.Matchers = `environment="production"`
			}
			if cfg.Timeout == 0 {
				cfg.Timeout = 5 * time.Second
			}
			var out bytes.Buffer
			dir := t.TempDir()
			s := step.NewStep("check-alerts", &out, "text", dir)
			err := Run(context.Background(), s, &cfg)
			code := step.ExitOK
			if err != nil {
				var fe *failure.Error
				code = step.ExitFailed
				if errors.As(err, &fe) && (fe.ID == failure.InvalidInput || fe.ID == failure.MountMissing) {
					code = step.ExitBadArgs
				}
				out.WriteString(err.Error() + "\n")
				if a, ok := failure.Explain(err); ok {
					out.WriteString("likely cause: " + a.Cause + "\nfix: " + a.Fix + "\n")
				}
			}
			assert.Equal(t, tt.wantCode, code, out.String())
			for _, h := range tt.outHas {
				assert.Contains(t, out.String(), h)
			}
			if tt.wantNames != "" {
				assert.Equal(t, map[string]string{string(ResultFiring): "0", string(ResultNames): tt.wantNames}, readResults(t, dir))
			}
		})
	}
}

func TestJoinNames(t *testing.T) {
	long := make([]string, 100)
	for i := range long {
		long[i] = fmt.Sprintf("SomeRatherLongAlertName%03d", i)
	}
	tests := []struct {
		name  string
		names []string
		limit int
		want  string
	}{
		{name: "none", names: nil, limit: 512, want: ""},
		{name: "fits", names: []string{"A", "B"}, limit: 512, want: "A,B"},
		{name: "exactly", names: []string{"AAAA", "BBBB"}, limit: 9, want: "AAAA,BBBB"},
		{name: "cut", names: []string{"AAAA", "BBBB", "CCCC", "DDDD"}, limit: 18, want: "AAAA,…(+3 more)"},
		{name: "first too long", names: []string{strings.Repeat("A", 600)}, limit: 512, want: "…(+1 more)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, JoinNames(tt.names, tt.limit))
		})
	}
	got := JoinNames(long, MaxNamesBytes)
	assert.LessOrEqual(t, len(got), MaxNamesBytes)
	assert.True(t, strings.HasPrefix(got, "SomeRatherLongAlertName000,SomeRatherLongAlertName001,"))
	assert.Regexp(t, `,…\(\+\d+ more\)$`, got)
	shown := strings.Count(got, "SomeRatherLongAlertName")
	assert.Contains(t, got, fmt.Sprintf("(+%d more)", 100-shown))
}

func TestLine(t *testing.T) {
	a := Alert{Name: "KubePodCrashLooping",
		Labels: map[string]string{"alertname": "KubePodCrashLooping", "severity": "warning", "environment": "production",
			"pod": "api-7f9", "namespace": "payments", "zone": "eu-1", "job": "kube-state-metrics", "container": "api", "instance": "10.0.0.1:8443"},
		Annotations: map[string]string{"description": "Pod payments/api-7f9\nis restarting " + strings.Repeat("a lot ", 40)},
		Since:       t0}
	hide := map[string]bool{"alertname": true, "severity": true, "environment": true}
	got := Line(a, hide, t0.Add(3*time.Hour+12*time.Minute))
	assert.True(t, strings.HasPrefix(got,
		"KubePodCrashLooping [warning] namespace=payments job=kube-state-metrics pod=api-7f9 instance=10.0.0.1:8443 since 2024-05-01T10:00:00Z (for 3h12m): Pod payments/api-7f9 is restarting a lot"), got)
	assert.NotContains(t, got, "\n")
	assert.NotContains(t, got, "zone=", "four labels at most")
	assert.True(t, strings.HasSuffix(got, "…"), "long text clipped")
	assert.Less(t, len([]rune(got)), 300)

	bare := Line(Alert{Labels: map[string]string{}}, hide, t0)
	assert.Equal(t, "(no alertname)", bare)
}

func TestAge(t *testing.T) {
	for d, want := range map[time.Duration]string{
		45 * time.Second: "45s", 12*time.Minute + 5*time.Second: "12m", 3*time.Hour + 12*time.Minute: "3h12m", 5*24*time.Hour + time.Hour: "5d",
	} {
		assert.Equal(t, want, age(d))
	}
}
