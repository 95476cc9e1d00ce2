package e2e

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/release-to-prod/release-to-prod/pkg/localrun/runner"
	"github.com/release-to-prod/release-to-prod/test/sandbox"
)

// TestPipelineReportsEveryEnd: each way the preflight can end without a verdict — rejected
// input, a crash, an OOM-like kill — still reaches the report in finally (its params name no
// result, so Tekton never skips it), and the history and Slack say what happened and why.
func TestPipelineReportsEveryEnd(t *testing.T) {
	k := newPipelineKit(t)

	t.Run("invalid input is rejected once, before any gate", func(t *testing.T) {
		tn := k.tenant(t, "pl-rejected", sandbox.TenantOptions{})
		params := k.params(tn, "skip_alerts", "perhaps", "scan_poll_timeout", "ten minutes")
		r := k.run(t, params, tn.Workspaces)
		require.NoError(t, r.Err)
		assert.False(t, r.Succeeded())
		assert.True(t, r.Rejected(), "tkn-local exits 2 on this outcome")
		assert.Equal(t, "preflight=Failed create-release=Skipped report=Succeeded", r.statuses())
		pre := r.task("preflight")
		require.NotEmpty(t, pre.Steps)
		assert.Equal(t, "check-input", pre.Steps[0].Name)
		assert.Equal(t, 2, pre.Steps[0].ExitCode)
		for _, s := range pre.Steps[1:] {
			assert.Equal(t, "Skipped", s.Status, "gate %s must not run on rejected input", s.Name)
		}
		assertLines(t, r.Output, `skip_alerts (SKIP_ALERTS): value "perhaps" is not true or false`,
			`scan_poll_timeout (SCAN_POLL_TIMEOUT): "ten minutes" is not a duration`)

		h := k.historyOf(t, tn.Namespace)
		require.Len(t, h, 1)
		assert.Equal(t, "Rejected", h[0].Status)
		assert.Contains(t, h[0].Cause, "skip_alerts")
		posts := tn.Hook.Posts()
		require.Len(t, posts, 1)
		assert.Contains(t, posts[0].Text, "Release rejected (invalid input): "+tn.Component)
		assert.Contains(t, slackTexts(t, posts), "skip_alerts")
		assert.Empty(t, k.releasesIn(t, tn.Namespace))
	})

	t.Run("an invalid SHA is recorded as typed", func(t *testing.T) {
		tn := k.tenant(t, "pl-rejected-sha", sandbox.TenantOptions{})
		r := k.run(t, k.params(tn, "commit_sha", "abc1234"), tn.Workspaces)
		require.NoError(t, r.Err)
		assert.True(t, r.Rejected())
		h := k.historyOf(t, tn.Namespace)
		require.Len(t, h, 1)
		assert.Equal(t, "Rejected", h[0].Status)
		assert.Equal(t, "abc1234", h[0].SHA)
		assert.Contains(t, h[0].Cause, "short SHA")
		require.Len(t, tn.Hook.Posts(), 1)
	})

	// The report pod checks slack_webhook_key too: the preflight rejected it, and the report
	// must neither read a file outside the Secret nor skip the notification in silence.
	t.Run("an invalid slack_webhook_key is said by the report too", func(t *testing.T) {
		tn := k.tenant(t, "pl-rejected-key", sandbox.TenantOptions{})
		r := k.run(t, k.params(tn, "slack_webhook_key", "../url"), tn.Workspaces)
		require.NoError(t, r.Err)
		assert.True(t, r.Rejected())
		assertLines(t, r.Output, `slack_webhook_key (SLACK_WEBHOOK_KEY): "../url" is not a valid Secret key`)
		assert.Contains(t, r.Output, "! notification not sent: slack_webhook_key")
		assert.Contains(t, r.Output, "likely cause: slack_webhook_key is not a valid Secret key")
		assert.Empty(t, tn.Hook.Posts(), "the URL cannot be read")
		h := k.historyOf(t, tn.Namespace)
		require.Len(t, h, 1)
		assert.Equal(t, "Rejected", h[0].Status)
	})

	// Two runs started with the same --workdir leave their TaskRuns side by side: each run's
	// report reads its own. The rejected run's files sort first, so a report that read the
	// folder whole would take its preflight for the dry run's.
	t.Run("two runs sharing a work folder are reported apart", func(t *testing.T) {
		tn := k.tenant(t, "pl-shared-workdir", sandbox.TenantOptions{})
		shared := t.TempDir()
		in := func(name string) func(*runner.Options) {
			return func(o *runner.Options) { o.WorkDir, o.Name = shared, name }
		}
		first := k.run(t, k.params(tn, "skip_alerts", "perhaps"), tn.Workspaces, in("a-shared-rejected"))
		require.NoError(t, first.Err)
		require.True(t, first.Rejected())
		second := k.run(t, k.params(tn, "dry_run", "true"), tn.Workspaces, in("b-shared-dry-run"))
		require.NoError(t, second.Err)
		require.True(t, second.Succeeded(), second.statuses())
		h := k.historyOf(t, tn.Namespace)
		require.Len(t, h, 2)
		byRun := map[string]string{}
		for _, e := range h {
			byRun[e.PipelineRun] = e.Status
		}
		assert.Equal(t, map[string]string{"a-shared-rejected": "Rejected", "b-shared-dry-run": "DryRun"}, byRun)
	})

	// A stand-in binary for the verdict step: the pod's last step ends without results.
	standIn := func(t *testing.T, script string) func(*runner.Options) {
		dir := t.TempDir()
		bin := filepath.Join(dir, "gate-verdict")
		require.NoError(t, os.WriteFile(bin, []byte("#!/bin/sh\n"+script+"\n"), 0o755))
		return func(o *runner.Options) {
			o.Images = map[string]string{"quay.io/release-to-prod/gate-verdict:0.1.0": bin}
		}
	}
	for _, tc := range []struct {
		name, script, cause string
	}{
		{"a crash", `echo "panic: runtime error: index out of range" >&2; exit 2`, "step gate-verdict stopped with exit code 2"},
		{"an OOM-like kill", `kill -KILL $$`, "step gate-verdict was killed for exceeding its memory limit (OOMKilled)"},
		// Results over the kubelet's share of the pod's termination messages: truncated, Tekton
		// cannot read them, and the TaskRun has no verdict.
		{"results over budget", `head -c 3000 /dev/zero | tr '\0' x > "${RESULTS_DIR%/GATE_SUMMARY/..}/GATE_SUMMARY"; exit 1`,
			"the preflight's results were over what the kubelet keeps"},
	} {
		t.Run("preflight ends with no verdict: "+tc.name, func(t *testing.T) {
			tn := k.tenant(t, "pl-no-verdict-"+map[string]string{"a crash": "crash", "an OOM-like kill": "oom", "results over budget": "budget"}[tc.name], sandbox.TenantOptions{})
			r := k.run(t, k.params(tn), tn.Workspaces, standIn(t, tc.script))
			require.NoError(t, r.Err)
			assert.False(t, r.Succeeded())
			assert.False(t, r.Rejected())
			assert.Equal(t, "preflight=Failed create-release=Skipped report=Succeeded", r.statuses())
			h := k.historyOf(t, tn.Namespace)
			require.Len(t, h, 1)
			assert.Equal(t, "Blocked", h[0].Status)
			assert.Contains(t, h[0].Cause, tc.cause)
			posts := tn.Hook.Posts()
			require.Len(t, posts, 1)
			assert.Contains(t, posts[0].Text, "Release blocked: "+tn.Component)
			assert.Contains(t, slackTexts(t, posts), "gate-verdict")
			assert.Empty(t, k.releasesIn(t, tn.Namespace))
		})
	}
}
