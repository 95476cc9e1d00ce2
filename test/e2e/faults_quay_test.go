package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/release-to-prod/release-to-prod/test/faults"
	"github.com/release-to-prod/release-to-prod/test/sandbox"
)

// faultCase is one fault and what the step must do behind it.
// Digests and repository of the Quay fault and cancellation tests.
const (
	quayRepo    = "redhat-user-workloads/faults-tenant/app/comp"
	quayScanned = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	quayQueued  = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
)

// TestQuayGateFaults puts Quay's security API (the sandbox's stand-in) behind injected faults:
// transient ones are retried and the gate decides from the real report; persistent ones fail
// closed (exit 1, no result, advice) within the step's time bounds (4 attempts of
// REQUEST_TIMEOUT plus backoffs; the step has no overall TIMEOUT).
func TestQuayGateFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("sandbox: starts a registry with the Quay stand-in")
	}
	reg, err := sandbox.StartRegistry()
	require.NoError(t, err)
	t.Cleanup(reg.Close)
	reg.Quay.SetSecurity(quayRepo, quayScanned, sandbox.QuayScanned(sandbox.QuayFeature{Name: "zlib", Version: "1.2.11",
		Vulnerabilities: []sandbox.QuayVulnerability{{Name: "CVE-2023-0001", Severity: "High", FixedBy: "1.2.12"}}}))
	security := faults.MethodPath("GET", "/security")

	tests := standardFaultCases(security)
	for _, tt := range tests {
		t.Run(tt.fault.String(), func(t *testing.T) {
			inj := faults.New(tt.fault)
			p, err := inj.NewProxy(reg.URL, nil)
			require.NoError(t, err)
			t.Cleanup(p.Server.Close)
			t.Cleanup(inj.Close)
			start := time.Now()
			r := runStep(t, "check-vulnerabilities", map[string]string{
				"STAGING_IMAGE": reg.Host + "/" + quayRepo, "PINNED_DIGEST": quayScanned, "QUAY_API_URL": p.URL,
				"REQUEST_TIMEOUT": "1s", "POLL_INTERVAL": "100ms", "POLL_TIMEOUT": "20s",
			})
			elapsed := time.Since(start)
			assert.Equal(t, tt.wantCode, r.Code)
			assert.Positive(t, inj.Injected())
			if tt.wantCode == 0 {
				assert.Equal(t, "0", r.Results["CRITICAL_COUNT"], "decided from the real report")
				assert.Contains(t, r.Results["SCAN_OUTPUT"], `"high":1`)
				return
			}
			assert.Contains(t, r.Output, tt.outHas)
			assert.Contains(t, r.Output, "likely cause: ")
			assert.Empty(t, r.Results, "a gate whose source failed never passes")
			assert.NotEmpty(t, r.Advice, "advice left for the verdict")
			assert.Less(t, elapsed, 15*time.Second, "4 attempts of 1s plus backoffs")
		})
	}
}

// hasLine reports whether out has a line containing part.
func hasLine(out, part string) bool {
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, part) {
			return true
		}
	}
	return false
}
