package e2e

import (
	"strings"
	"testing"
	"unicode"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/release-to-prod/release-to-prod/test/sandbox"
)

// TestOutsideTextIsEscaped: an alert from a real Alertmanager whose name and summary carry a
// terminal escape sequence, a carriage return and a bidi override reaches the step's log with
// each written as a visible escape, in text and in JSON.
func TestOutsideTextIsEscaped(t *testing.T) {
	if testing.Short() {
		t.Skip("sandbox: starts Alertmanager")
	}
	am := sandbox.StartAlertmanager(t)
	am.PostAlerts(t, sandbox.AlertmanagerAlert{
		Labels:      map[string]string{"alertname": "Evil\x1b[2J\x1b[32mAllGood", "environment": "production", "severity": "critical"},
		Annotations: map[string]string{"summary": "done\rOK \u202eesrever"},
	})
	for _, format := range []string{"text", "json"} {
		t.Run(format, func(t *testing.T) {
			r := runStep(t, "check-alerts", map[string]string{"ALERTMANAGER_URL": am.URL, "TIMEOUT": "10s", "LOG_FORMAT": format})
			require.Equal(t, 1, r.Code, r.Output)
			for _, c := range r.Output {
				if c != '\n' && c != '\t' && (unicode.IsControl(c) || unicode.Is(unicode.Cf, c)) {
					t.Fatalf("%q reached the log:\n%s", c, r.Output)
				}
			}
			assert.True(t, strings.Contains(r.Output, `Evil\x1b[2J\x1b[32mAllGood`) || strings.Contains(r.Output, `Evil\u001b[2J\u001b[32mAllGood`), r.Output)
			assert.Contains(t, r.Output, `\u202eesrever`, "the bidi override, visible")
		})
	}
}
