package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/release-to-prod/release-to-prod/pkg/step"
)

// clearEnv unsets every setting of the step, so that the test's flags alone configure it.
func clearEnv(t *testing.T) {
	t.Helper()
	fields, err := step.EnvFields(&Config{})
	require.NoError(t, err)
	for _, f := range fields {
		t.Setenv(f.Env, "")
		require.NoError(t, os.Unsetenv(f.Env))
	}
}

func baseArgs(urlFile string) []string {
	return []string{
		"--webhook-url-file=" + urlFile,
		"--component=automation-analytics-backend-main",
		"--application=automation-analytics",
		"--namespace=aap-tenant",
		"--commit-sha=" + testSHA,
		"--pinned-digest=sha256:" + strings.Repeat("ab", 32),
		"--release-name=rtp-0123456-prod",
		"--gate-summary=image ✓, konflux ✓, alerts ✗",
		"--pipelinerun-url=https://console.example.com/pr/rtp-abc",
	}
}

func runStep(t *testing.T, args ...string) (code int, out string, results map[string]string) {
	t.Helper()
	clearEnv(t)
	dir := t.TempDir()
	var buf bytes.Buffer
	code = step.Run(context.Background(), "notify", append(args, "--results-dir="+dir), &buf, &Config{}, Run)
	return code, buf.String(), readResults(t, dir)
}

func TestRun(t *testing.T) {
	tests := []struct {
		name       string
		replies    []reply
		args       []string
		wantCode   int
		wantResult string
		outHas     []string
		header     string // of the message posted; "" when none must be posted
		textHas    []string
	}{
		{name: "success", args: []string{"--status=Succeeded", "--release-status=Succeeded"},
			wantResult: "true", outHas: []string{"✓ notification sent to Slack (127.0.0.1): released"},
			header: ":rocket: Released automation-analytics-backend-main"},
		{name: "failure", args: []string{"--status=Failed", "--failure-cause=2 alerts firing", "--failure-fix=resolve them"},
			wantResult: "true", outHas: []string{"✓ notification sent to Slack (127.0.0.1): blocked"},
			header: ":x: Release blocked: automation-analytics-backend-main", textHas: []string{"*Cause*\n2 alerts firing", "*Fix*\nresolve them"}},
		{name: "dry run", args: []string{"--status=Succeeded", "--dry-run=true", "--release-status=DryRun"},
			wantResult: "true", header: ":test_tube: Dry run passed: automation-analytics-backend-main"},
		{name: "release timed out", args: []string{"--status=Failed", "--release-status=TimedOut"},
			wantResult: "true", header: ":x: Release timed out: automation-analytics-backend-main"},
		{name: "cancelled pipeline", args: []string{"--status=None"},
			wantResult: "true", outHas: []string{"  status: the pipeline did not finish"},
			header: ":warning: Not released: automation-analytics-backend-main"},
		{name: "500 then 200: delivered", replies: []reply{{code: 500, retryAfter: "0"}, {code: 200, body: "ok"}},
			args: []string{"--status=Succeeded"}, wantResult: "true", header: ":rocket: Released automation-analytics-backend-main"},
		{name: "persistent 500: warning, exit 0", replies: []reply{{code: 500, retryAfter: "0", body: "rollup_error"}},
			args: []string{"--status=Succeeded"}, wantResult: "false",
			outHas: []string{"! notification not sent: Slack (127.0.0.1) answered 500 Internal Server Error: rollup_error", "  likely cause: Slack kept answering with server errors", "  fix: "}},
		{name: "persistent 500 with fail_on_error", replies: []reply{{code: 500, retryAfter: "0", body: "rollup_error"}},
			args: []string{"--status=Succeeded", "--fail-on-error=true"}, wantCode: step.ExitFailed, wantResult: "false",
			outHas: []string{"! notification not sent", "✗ notify failed: notification not sent and FAIL_ON_ERROR is true"}},
		{name: "no_service: warning, exit 0", replies: []reply{{code: 404, body: "no_service"}},
			args: []string{"--status=Succeeded"}, wantResult: "false",
			outHas: []string{"answered 404 Not Found: no_service", "likely cause: the webhook was revoked", "fix: create a new incoming webhook"}},
		{name: "429 Retry-After 0: retried", replies: []reply{{code: 429, retryAfter: "0"}, {code: 200, body: "ok"}},
			args: []string{"--status=Succeeded"}, wantResult: "true", header: ":rocket: Released automation-analytics-backend-main"},
		{name: "bad SHA still notifies", args: []string{"--status=Failed", "--commit-sha=0123456"},
			wantResult: "true", outHas: []string{"! COMMIT_SHA: invalid commit SHA: \"0123456\" is a short SHA"},
			header: ":x: Release blocked: automation-analytics-backend-main", textHas: []string{"`\"0123456\"` (not a commit SHA)"}},
		{name: "lenient flags", args: []string{"--status=Succeeded", "--dry-run=maybe", "--fail-on-error=yes", "--timeout=soon"},
			wantResult: "true", outHas: []string{`! DRY_RUN "maybe" is not true or false`, `! FAIL_ON_ERROR "yes"`, `! TIMEOUT "soon"`},
			header: ":rocket: Released automation-analytics-backend-main"},
		{name: "bad PipelineRun URL", args: []string{"--status=Succeeded", "--pipelinerun-url=<!channel>"},
			wantResult: "true", outHas: []string{"! PIPELINERUN_URL is not an http(s) URL"}, header: ":rocket: Released automation-analytics-backend-main"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSink(t, tt.replies...)
			code, out, results := runStep(t, append(baseArgs(s.URLFile()), tt.args...)...)
			assert.Equal(t, tt.wantCode, code, out)
			assert.Equal(t, tt.wantResult, results["NOTIFIED"])
			for _, h := range tt.outHas {
				assert.Contains(t, out, h)
			}
			var resultText []string
			for _, v := range results {
				resultText = append(resultText, v)
			}
			assertNoSecret(t, append(resultText, out)...)
			if tt.header == "" {
				return
			}
			m := s.Last()
			require.NoError(t, m.Validate())
			assert.Equal(t, tt.header, m.Blocks[0].Text.Text)
			texts := strings.Join(allTexts(m), "\n")
			for _, h := range tt.textHas {
				assert.Contains(t, texts, h)
			}
		})
	}
}

func TestRunSkipsWithoutWebhook(t *testing.T) {
	for name, tt := range map[string]struct{ file, why string }{
		"empty setting": {"", "not configured (no WEBHOOK_URL_FILE)"},
		"Secret absent under its default name (an empty mount)": {filepath.Join(t.TempDir(), "url"),
			"not configured (no Secret release-to-prod-slack-webhook in this namespace; slack_webhook_secret names another)"},
		"Secret absent under its default name (no mount at all)": {filepath.Join(t.TempDir(), "nope", "url"),
			"not configured (no Secret release-to-prod-slack-webhook in this namespace; slack_webhook_secret names another)"},
	} {
		t.Run(name, func(t *testing.T) {
			code, out, results := runStep(t, "--webhook-url-file="+tt.file, "--status=Succeeded")
			assert.Equal(t, 0, code)
			assert.Equal(t, "- notification skipped: Slack webhook "+tt.why+"\n", out)
			assert.Equal(t, "skipped", results["NOTIFIED"])
		})
	}
}

// TestRunNamedWebhookSecretMissing: a Slack Secret the user named that is absent, or without
// the key, is said with the object, the key and the fix; the message is not sent and the step
// passes (a notification never fails the run) unless FAIL_ON_ERROR.
func TestRunNamedWebhookSecretMissing(t *testing.T) {
	withOther := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(withOther, "webhook"), []byte("x"), 0o600))
	tests := []struct {
		name     string
		args     []string
		wantCode int
		outHas   []string
	}{
		{name: "absent", args: []string{"--webhook-url-file=" + filepath.Join(t.TempDir(), "url"), "--webhook-secret=team-hook"},
			outHas: []string{"! notification not sent: Secret team-hook (param slack_webhook_secret), key url: does not exist in this namespace",
				"fix: create it (kubectl create secret generic team-hook --from-file=url=<file> -n <namespace>), or set slack_webhook_secret to the Secret that holds it"}},
		{name: "without the key", args: []string{"--webhook-url-file=" + filepath.Join(withOther, "url"), "--webhook-secret=team-hook"},
			outHas: []string{"Secret team-hook (param slack_webhook_secret), key url: has no key url (its keys: webhook)", "or set slack_webhook_key to the key that holds it"}},
		{name: "absent, fail on error", args: []string{"--webhook-url-file=" + filepath.Join(t.TempDir(), "url"), "--webhook-secret=team-hook", "--fail-on-error=true"},
			wantCode: 1, outHas: []string{"Secret team-hook (param slack_webhook_secret), key url: does not exist"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, results := runStep(t, append(tt.args, "--status=Failed")...)
			assert.Equal(t, tt.wantCode, code, out)
			for _, h := range tt.outHas {
				assert.Contains(t, out, h)
			}
			assert.Equal(t, "false", results["NOTIFIED"])
		})
	}
}

// TestRunChecksTheWebhookKey: the report pod checks slack_webhook_key (the end of
// WEBHOOK_URL_FILE) as check-input does: an invalid key is said, never read nor skipped.
func TestRunChecksTheWebhookKey(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "url"), []byte("XXXXSECRET"), 0o600))
	for name, key := range map[string]string{
		"empty":          "",
		"dot dot":        "..",
		"climbs out":     "../url",
		"a control char": "u\x1brl",
		"a space":        "my url",
		"a trailing dot": ".",
	} {
		t.Run(name, func(t *testing.T) {
			code, out, results := runStep(t, "--webhook-url-file="+dir+"/ws/"+key, "--status=Succeeded")
			assert.Equal(t, 0, code, out)
			assert.Contains(t, out, "! notification not sent: slack_webhook_key")
			assert.Contains(t, out, "likely cause: slack_webhook_key is not a valid Secret key")
			assert.NotContains(t, out, "\x1b", "escaped")
			assert.Equal(t, "false", results["NOTIFIED"])
			assertNoSecret(t, out)
		})
	}
}

// TestRunTakesARelativeWebhookFile: from a laptop, a relative path is a path, not a bad key.
func TestRunTakesARelativeWebhookFile(t *testing.T) {
	t.Chdir(t.TempDir())
	code, out, results := runStep(t, "--webhook-url-file=./nope/url", "--status=Succeeded")
	assert.Equal(t, 0, code, out)
	assert.Equal(t, "skipped", results["NOTIFIED"])
}

func TestRunUnusableSecret(t *testing.T) {
	tests := []struct{ name, content, outHas string }{
		{"empty file", "\n", "is empty"},
		{"not a URL", "XXXXSECRET", "does not hold a URL"},
		{"plain http to a remote host", "http://hooks.example.com" + secretPath, "not https"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "url")
			require.NoError(t, os.WriteFile(p, []byte(tt.content), 0o600))
			code, out, results := runStep(t, "--webhook-url-file="+p, "--status=Succeeded")
			assert.Equal(t, 0, code, out)
			assert.Contains(t, out, "! notification not sent: ")
			assert.Contains(t, out, tt.outHas)
			assert.Contains(t, out, "does not hold a usable incoming-webhook URL")
			assert.Equal(t, "false", results["NOTIFIED"])
			assertNoSecret(t, out)
		})
	}
}

func TestRunUnreachableJSONLog(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	p := filepath.Join(t.TempDir(), "url")
	require.NoError(t, os.WriteFile(p, []byte("http://"+addr+secretPath), 0o600))
	code, out, results := runStep(t, "--webhook-url-file="+p, "--status=Succeeded", "--log-format=json", "--timeout=5s")
	assert.Equal(t, 0, code, out)
	assert.Equal(t, "false", results["NOTIFIED"])
	assertNoSecret(t, out)
	var levels []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var rec struct{ Level, Msg string }
		require.NoError(t, json.Unmarshal([]byte(line), &rec), line)
		levels = append(levels, rec.Level)
		if rec.Level == "warn" {
			assert.Contains(t, rec.Msg, "notification not sent")
		}
	}
	assert.Contains(t, levels, "warn")
}

// TestRunAfterRecordHistory: notify runs whatever record-history did (it runs with onError:
// continue before it in the report pod). A result record-history did not write reaches notify
// as the unresolved reference Tekton's entrypoint leaves; a failed record-history is told in
// the message, and fails the report after Slack was told.
func TestRunAfterRecordHistory(t *testing.T) {
	const unwritten = "$(steps.record-history.results.RELEASE_STATUS)"
	tests := []struct {
		name     string
		exitCode string // "" : no exit code file
		args     []string
		wantCode int
		header   string
		textHas  []string
	}{
		{"recorded", "0", []string{"--status=Failed", "--release-status=Cancelled", "--failure-cause=the run was cancelled (CancelledRunFinally) while check-image waited for the build: nothing was released"},
			0, ":x: Release run cancelled: automation-analytics-backend-main", []string{"while check-image waited for the build"}},
		{"timed out", "0", []string{"--status=Failed", "--release-status=RunTimedOut", "--failure-cause=the run timed out after 15s while check-image waited for the build: nothing was released"},
			0, ":x: Release run timed out: automation-analytics-backend-main", []string{"timed out after 15s"}},
		{"ConfigMap write refused: the outcome stands, Slack told", "0", []string{"--status=Succeeded", "--release-status=Succeeded",
			"--record-note=not recorded in ConfigMap release-history: the ServiceAccount may not update configmaps in namespace aap-tenant"},
			0, ":rocket: Released automation-analytics-backend-main", []string{"*History*\nnot recorded in ConfigMap release-history: the ServiceAccount may not update configmaps"}},
		{"record-history refused a right, results written", "3", []string{"--status=Failed", "--release-status=NotPermitted",
			"--failure-cause=the ServiceAccount may not list taskruns in namespace aap-tenant: the API server answered Forbidden"},
			step.ExitFailed, ":x: Release run not permitted: automation-analytics-backend-main", []string{"may not list taskruns", "*History*\nrecord-history failed (exit 3)"}},
		{"record-history crashed, no results: never 'blocked'", "2", []string{"--status=Failed", "--release-status=" + unwritten,
			"--failure-cause=$(steps.record-history.results.FAILURE_CAUSE)", "--record-note=$(steps.record-history.results.RECORD_NOTE)"},
			step.ExitFailed, ":warning: Not released: automation-analytics-backend-main", []string{"could not work out how the run ended", "record-history failed (exit 2)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSink(t)
			args := append(baseArgs(s.URLFile()), tt.args...)
			if tt.exitCode != "" {
				f := filepath.Join(t.TempDir(), "exitCode")
				require.NoError(t, os.WriteFile(f, []byte(tt.exitCode), 0o644))
				args = append(args, "--record-exit-code-file="+f)
			}
			code, out, results := runStep(t, args...)
			assert.Equal(t, tt.wantCode, code, out)
			assert.Equal(t, "true", results["NOTIFIED"], "Slack is told before the step fails")
			m := s.Last()
			require.NoError(t, m.Validate())
			assert.Equal(t, tt.header, m.Blocks[0].Text.Text)
			texts := strings.Join(allTexts(m), "\n")
			for _, h := range tt.textHas {
				assert.Contains(t, texts, h)
			}
			assert.NotContains(t, texts, "$(steps.", "an unresolved reference is never shown")
			assert.NotContains(t, texts, "blocked")
		})
	}
}
