package alerts

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/release-to-prod/release-to-prod/test/sandbox"
	"github.com/release-to-prod/release-to-prod/test/stepexec"
)

// TestStepBinary builds steps/check-alerts and runs it as a process against the real
// Alertmanager, with the environment a StepAction sets: exit codes, output lines and the
// result files.
func TestStepBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("sandbox: needs the real Alertmanager")
	}
	bin := stepexec.Build(t, "check-alerts")

	am := sandbox.StartAlertmanager(t)
	am.PostAlerts(t,
		highErrorRate,
		sandbox.AlertmanagerAlert{Labels: map[string]string{"alertname": "QueueBacklog", "environment": "production", "severity": "warning", "team": "aa"},
			Annotations: map[string]string{"summary": "queue has 10k messages"}},
		sandbox.AlertmanagerAlert{Labels: map[string]string{"alertname": "StagingDown", "environment": "staging", "severity": "critical"}},
	)

	tests := []struct {
		name        string
		env         map[string]string
		wantCode    int
		wantLines   []string // whole lines
		outHas      []string
		wantResults map[string]string
	}{
		{name: "firing production alerts block", env: map[string]string{"MATCHERS": `environment="production"`, "SEVERITY": ""},
			wantCode: 1,
			outHas: []string{"✗ HighErrorRate [critical] namespace=payments since ", "✗ QueueBacklog [warning] team=aa since ",
				"✗ check-alerts failed: 2 firing production alerts block the release",
				"  likely cause: 2 alerts are firing in production (environment=\"production\"): HighErrorRate,QueueBacklog"},
			wantResults: map[string]string{"FIRING_ALERTS": "2", "ALERT_NAMES": "HighErrorRate,QueueBacklog"}},
		{name: "team without firing alerts passes", env: map[string]string{"MATCHERS": `environment="production",team="bb"`, "SEVERITY": ""},
			wantLines:   []string{`✓ no firing production alerts (matchers environment="production",team="bb")`},
			wantResults: map[string]string{"FIRING_ALERTS": "0", "ALERT_NAMES": ""}},
		{name: "severity critical", env: map[string]string{"MATCHERS": `environment="production",team="aa"`, "SEVERITY": "critical"},
			wantLines: []string{`✓ no firing production alerts (matchers environment="production",team="aa",severity="critical")`}},
		{name: "skip", env: map[string]string{"SKIP": "true"},
			wantLines:   []string{"- alerts gate skipped (skip=true)"},
			wantResults: map[string]string{"FIRING_ALERTS": "0", "ALERT_NAMES": "skipped"}},
		{name: "malformed matchers exit 2", env: map[string]string{"MATCHERS": `environment="production`},
			wantCode: 2, outHas: []string{"unterminated quoted value", "likely cause: a parameter is not valid"}},
		{name: "json log format", env: map[string]string{"LOG_FORMAT": "json", "SEVERITY": "critical"}, wantCode: 1,
			outHas: []string{`"level":"fail","msg":"HighErrorRate [critical]`, `"id":"alerts-firing"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			results := filepath.Join(t.TempDir(), "results")
			env := []string{
				"PATH=" + os.Getenv("PATH"),
				"ALERTMANAGER_URL=" + am.URL,
				// As the StepAction passes it: the step's results folder, named through one result.
				"RESULTS_DIR=" + results + "/FIRING_ALERTS/..",
				// As the Task passes its optional volumes when the Secret and the ConfigMap are
				// absent under their default names: mount folders that exist and hold nothing.
				"TOKEN_FILE=" + mountDir(t, "monitoring-token") + "/token",
				"CA_FILE=" + mountDir(t, "ca-bundle") + "/ca-bundle.crt",
			}
			for k, v := range tt.env {
				env = append(env, k+"="+v)
			}
			r := stepexec.Run(t, bin, env)
			code := r.Code
			t.Logf("output:\n%s", r.Output)
			assert.Equal(t, tt.wantCode, code, r.Output)
			lines := strings.Split(strings.TrimRight(r.Output, "\n"), "\n")
			for _, l := range tt.wantLines {
				assert.Contains(t, lines, l)
			}
			for _, h := range tt.outHas {
				assert.Contains(t, r.Output, h)
			}
			for k, v := range tt.wantResults {
				b, err := os.ReadFile(filepath.Join(results, k))
				require.NoError(t, err, k)
				assert.Equal(t, v, string(b), k)
			}
		})
	}
}

// mountDir is an empty folder standing for a Task volume whose optional object is absent.
func mountDir(t *testing.T, name string) string {
	t.Helper()
	d := filepath.Join(t.TempDir(), name)
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
	return d
}
