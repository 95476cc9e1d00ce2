package e2e

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/release-to-prod/release-to-prod/test/sandbox"
)

// TestPipelineMissingSecrets: whatever a user can name wrongly — a Secret or ConfigMap that does
// not exist, a Secret without the key — ends the run within seconds with the object and the key
// named (the Tasks mount them as optional volumes: nothing waits on a mount), and the report
// still runs: the history and Slack carry the real cause. A Slack Secret that is itself missing
// leaves the run recorded and the cause printed by the report.
func TestPipelineMissingSecrets(t *testing.T) {
	k := newPipelineKit(t)
	tests := []struct {
		name   string
		ns     string
		setup  func(t *testing.T, tn *pipelineTenant)
		params []string
		gate   string   // the gate the missing object stops
		cause  []string // in FAILURE_CAUSE, the history's cause and the Slack message
	}{
		{name: "a Secret that does not exist", ns: "pl-mount-no-secret", params: []string{"monitoring_token_secret", "team-monitoring-token"},
			gate:  "alerts",
			cause: []string{"Secret team-monitoring-token (param monitoring_token_secret) does not exist", "key token"}},
		{name: "a Secret without the key", ns: "pl-mount-no-key", params: []string{"quay_token_secret", "team-quay"},
			setup: func(t *testing.T, tn *pipelineTenant) {
				k.secret(t, tn.Namespace, "team-quay", map[string]string{"quay-token": k.canary("Quay token under another key")})
			},
			gate:  "vulnerabilities",
			cause: []string{"Secret team-quay (param quay_token_secret) has no key token (its keys: quay-token)"}},
		{name: "a CA ConfigMap that does not exist", ns: "pl-mount-no-ca", params: []string{"ca_bundle_configmap", "corp-ca"},
			gate:  "alerts",
			cause: []string{"ConfigMap corp-ca (param ca_bundle_configmap) does not exist", "key ca-bundle.crt"}},
		{name: "a CA ConfigMap without the key", ns: "pl-mount-ca-no-key", params: []string{"ca_bundle_configmap", "corp-ca"},
			setup: func(t *testing.T, tn *pipelineTenant) {
				k.configMap(t, tn.Namespace, "corp-ca", map[string]string{"corp.pem": "not this key"})
			},
			gate:  "alerts",
			cause: []string{"ConfigMap corp-ca (param ca_bundle_configmap) has no key ca-bundle.crt (its keys: corp.pem)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tn := k.tenant(t, tt.ns, sandbox.TenantOptions{})
			if tt.setup != nil {
				tt.setup(t, tn)
			}
			start := time.Now()
			r := k.run(t, k.params(tn, tt.params...), tn.Workspaces)
			wall := time.Since(start)
			t.Logf("wall time %s", wall.Round(time.Millisecond))
			require.NoError(t, r.Err)
			assert.Less(t, wall, time.Minute, "a missing object ends the run within a minute")
			assert.Equal(t, "preflight=Failed create-release=Skipped report=Succeeded", r.statuses())
			assert.Contains(t, r.taskResult("preflight", "FAILED_GATES"), tt.gate)
			h := k.historyOf(t, tn.Namespace)
			require.Len(t, h, 1)
			posts := tn.Hook.Posts()
			require.Len(t, posts, 1)
			for _, c := range tt.cause {
				assert.Contains(t, r.taskResult("preflight", "FAILURE_CAUSE"), c)
				assert.Contains(t, h[0].Cause, c, "the history's cause")
				assert.Contains(t, slackTexts(t, posts), c, "Slack's message")
			}
			assert.Contains(t, slackTexts(t, posts), "kubectl create ", "the fix is in the message")
			assert.Empty(t, k.releasesIn(t, tn.Namespace))
		})
	}

	t.Run("the Slack Secret itself does not exist", func(t *testing.T) {
		tn := k.tenant(t, "pl-mount-no-slack", sandbox.TenantOptions{})
		start := time.Now()
		r := k.run(t, k.params(tn, "slack_webhook_secret", "team-slack-webhook"), tn.Workspaces)
		t.Logf("wall time %s", time.Since(start).Round(time.Millisecond))
		require.NoError(t, r.Err)
		assert.True(t, r.Succeeded(), "a notification never fails a release: %s", r.statuses())
		assertResult(t, r, "RELEASE_STATUS", "Succeeded")
		assert.Equal(t, "false", r.taskResult("report", "NOTIFIED"))
		assertLines(t, r.Output, "likely cause: Secret team-slack-webhook (param slack_webhook_secret) does not exist in this namespace (or holds no key): the step cannot read its key url")
		assert.Contains(t, r.Output, "kubectl create secret generic team-slack-webhook --from-file=url=<file>")
		assert.Empty(t, tn.Hook.Posts())
		h := k.historyOf(t, tn.Namespace)
		require.Len(t, h, 1, "the report records the run")
		assert.Equal(t, "Succeeded", h[0].Status)
	})

	t.Run("absent under their default names: not configured", func(t *testing.T) {
		tn := k.tenant(t, "pl-mount-defaults", sandbox.TenantOptions{})
		k.deleteSecret(t, tn.Namespace, "release-to-prod-quay-token")
		k.deleteSecret(t, tn.Namespace, "release-to-prod-monitoring-token")
		r := k.run(t, k.params(tn), tn.Workspaces)
		require.NoError(t, r.Err)
		assert.True(t, r.Succeeded(), r.statuses())
		assertResult(t, r, "RELEASE_STATUS", "Succeeded")
		assert.Contains(t, r.Output, "monitoring token not configured (no Secret release-to-prod-monitoring-token in this namespace; monitoring_token_secret names another): no token")
		assert.Contains(t, r.Output, "CA bundle not configured (no ConfigMap trusted-ca in this namespace; ca_bundle_configmap names another): system roots only")
		require.Len(t, tn.Hook.Posts(), 1)
	})
}
