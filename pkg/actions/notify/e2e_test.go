package notify

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/release-to-prod/release-to-prod/test/stepexec"
)

// TestNotifyBinary runs the real step binary against the loopback sink, configured through the
// environment as the StepAction does.
func TestNotifyBinary(t *testing.T) {
	bin := stepexec.Build(t, "notify")
	tests := []struct {
		name       string
		replies    []reply
		env        map[string]string
		wantCode   int
		wantResult string
		outHas     []string
		header     string
	}{
		{name: "released", env: map[string]string{"STATUS": "Succeeded", "RELEASE_STATUS": "Succeeded"},
			wantResult: "true", outHas: []string{"✓ notification sent to Slack (127.0.0.1): released"},
			header: ":rocket: Released automation-analytics-backend-main"},
		{name: "blocked, Slack down: warning and exit 0", replies: []reply{{code: 503, retryAfter: "0", body: "<p>down at " + secretPath + "</p>"}},
			env:        map[string]string{"STATUS": "Failed", "FAILURE_CAUSE": "alerts firing"},
			wantResult: "false", outHas: []string{"! notification not sent: Slack (127.0.0.1) answered 503 Service Unavailable", "likely cause:"}},
		{name: "Slack down, fail on error", replies: []reply{{code: 503, retryAfter: "0"}},
			env:      map[string]string{"STATUS": "Succeeded", "FAIL_ON_ERROR": "true"},
			wantCode: 1, wantResult: "false", outHas: []string{"✗ notify failed: notification not sent and FAIL_ON_ERROR is true"}},
		{name: "no Slack Secret under its default name", env: map[string]string{"WEBHOOK_URL_FILE": "/nonexistent/slack-webhook/url", "STATUS": "Succeeded"},
			wantResult: "skipped", outHas: []string{"- notification skipped: Slack webhook not configured (no Secret release-to-prod-slack-webhook"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSink(t, tt.replies...)
			results := filepath.Join(t.TempDir(), "results")
			env := map[string]string{
				"WEBHOOK_URL_FILE": s.URLFile(),
				"RESULTS_DIR":      filepath.Join(results, "NOTIFIED", ".."),
				"COMPONENT":        "automation-analytics-backend-main",
				"APPLICATION":      "automation-analytics",
				"NAMESPACE":        "aap-tenant",
				"COMMIT_SHA":       testSHA,
				"GATE_SUMMARY":     "image ✓, konflux ✓, alerts ✗",
				"PIPELINERUN_URL":  "https://console.example.com/pr/x",
			}
			for k, v := range tt.env {
				env[k] = v
			}
			procEnv := []string{"PATH=" + os.Getenv("PATH")}
			for k, v := range env {
				procEnv = append(procEnv, k+"="+v)
			}
			r := stepexec.Run(t, bin, procEnv)
			code, out := r.Code, r.Output
			assert.Equal(t, tt.wantCode, code, "output: %s", out)
			for _, h := range tt.outHas {
				assert.Contains(t, out, h)
			}
			b, err := os.ReadFile(filepath.Join(results, "NOTIFIED"))
			require.NoError(t, err)
			assert.Equal(t, tt.wantResult, string(b))
			assertNoSecret(t, out, string(b))
			if tt.header != "" {
				m := s.Last()
				require.NoError(t, m.Validate())
				assert.Equal(t, tt.header, m.Blocks[0].Text.Text)
				assert.True(t, strings.HasPrefix(m.Text, "Released automation-analytics-backend-main (commit 0123456)"), m.Text)
			}
		})
	}
}
