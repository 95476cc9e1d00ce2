package e2e

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/release-to-prod/release-to-prod/test/faults"
	"github.com/release-to-prod/release-to-prod/test/sandbox"
)

// TestImageGateFaults puts the registry behind injected faults: transient ones are retried and
// the gate passes; persistent ones fail closed with advice, within the step's timeout.
func TestImageGateFaults(t *testing.T) {
	s := sandbox.New(t)
	tenant, err := s.SeedTenant(context.Background(), sandbox.TenantOptions{SHA: sha})
	require.NoError(t, err)
	path := strings.TrimPrefix(tenant.Repository, s.Registry.Host+"/")
	manifests := faults.MethodPath("", "/manifests/")

	tests := standardFaultCases(manifests)
	for _, tt := range tests {
		t.Run(tt.fault.String(), func(t *testing.T) {
			inj := faults.New(tt.fault)
			defer inj.Close()
			p, err := inj.NewProxy(s.Registry.URL, nil)
			require.NoError(t, err)
			defer p.Server.Close()
			host := strings.TrimPrefix(p.URL, "http://")
			r := runStep(t, "check-image", map[string]string{
				"COMMIT_SHA": sha, "REPOSITORY": host + "/" + path,
				"REQUEST_TIMEOUT": "1s", "TIMEOUT": "60s",
			})
			assert.Equal(t, tt.wantCode, r.Code)
			assert.Positive(t, inj.Injected())
			if tt.wantCode == 0 {
				assert.Equal(t, tenant.Digest, r.Results["PINNED_DIGEST"], "the pinned digest is the real one")
			} else {
				assert.Contains(t, r.Output, tt.outHas)
				assert.Empty(t, r.Results["PINNED_DIGEST"], "a gate whose source failed never passes")
			}
		})
	}
}
