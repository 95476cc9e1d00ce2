package slack

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// buildNotify builds steps/notify as the image does and returns the binary's path.
func buildNotify(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("../..")
	require.NoError(t, err)
	require.FileExists(t, filepath.Join(root, "go.mod"))
	bin := filepath.Join(t.TempDir(), "notify")
	cmd := exec.Command("go", "build", "-trimpath", "-o", bin, "./steps/notify")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	return bin
}

// TestNotifyBinary runs the real step binary against the loopback sink, configured through the
// environment as the StepAction does.
func TestNotifyBinary(t *testing.T) {
	bin := buildNotify(t)
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
		{name: "unbound webhook", env: map[string]string{"WEBHOOK_URL_FILE": "/url", "STATUS": "Succeeded"},
			wantResult: "skipped", outHas: []string{"- notification skipped (no Slack webhook bound)"}},
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
			cmd := exec.Command(bin)
			cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
			for k, v := range env {
				cmd.Env = append(cmd.Env, k+"="+v)
			}
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			code := 0
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				code = ee.ExitCode()
			} else {
				require.NoError(t, err)
			}
			out := stdout.String()
			assert.Equal(t, tt.wantCode, code, "stdout: %s\nstderr: %s", out, stderr.String())
			for _, h := range tt.outHas {
				assert.Contains(t, out, h)
			}
			b, err := os.ReadFile(filepath.Join(results, "NOTIFIED"))
			require.NoError(t, err)
			assert.Equal(t, tt.wantResult, string(b))
			assertNoSecret(t, out, stderr.String(), string(b))
			if tt.header != "" {
				m := s.Last()
				require.NoError(t, m.Validate())
				assert.Equal(t, tt.header, m.Blocks[0].Text.Text)
				assert.True(t, strings.HasPrefix(m.Text, "Released automation-analytics-backend-main (commit 0123456)"), m.Text)
			}
		})
	}
}
