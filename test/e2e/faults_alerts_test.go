package e2e

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/release-to-prod/release-to-prod/test/faults"
	"github.com/release-to-prod/release-to-prod/test/sandbox"
)

// TestAlertsGateFaults puts a real Alertmanager behind injected faults. Transient faults are
// retried and the gate passes on the real answer (one staging alert fires, no production one);
// persistent ones fail closed within TIMEOUT: exit 1, no FIRING_ALERTS result, advice.
func TestAlertsGateFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("sandbox: starts Alertmanager")
	}
	am := sandbox.StartAlertmanager(t)
	am.PostAlerts(t, sandbox.AlertmanagerAlert{Labels: map[string]string{"alertname": "StagingDown", "environment": "staging", "severity": "critical"}})
	api := faults.MethodPath("GET", "/api/v2/alerts")
	const timeout = 8 * time.Second // each attempt gets a quarter: 2s

	tests := standardFaultCases(api)
	for _, tt := range tests {
		t.Run(tt.fault.String(), func(t *testing.T) {
			inj := faults.New(tt.fault)
			p, err := inj.NewProxy(am.URL, nil)
			require.NoError(t, err)
			t.Cleanup(p.Server.Close)
			t.Cleanup(inj.Close)
			start := time.Now()
			r := runStep(t, "check-alerts", map[string]string{"ALERTMANAGER_URL": p.URL, "TIMEOUT": timeout.String()})
			elapsed := time.Since(start)
			assert.Equal(t, tt.wantCode, r.Code)
			assert.Positive(t, inj.Injected())
			if tt.wantCode == 0 {
				assert.Equal(t, "0", r.Results["FIRING_ALERTS"])
				assert.Contains(t, r.Output, "✓ no firing production alerts")
				return
			}
			assert.Contains(t, r.Output, tt.outHas)
			assert.Contains(t, r.Output, "likely cause: ")
			assert.Empty(t, r.Results, "a gate whose source failed never passes")
			assert.NotEmpty(t, r.Advice)
			assert.Less(t, elapsed, timeout+3*time.Second, "within TIMEOUT")
		})
	}
}
