package e2e

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/release-to-prod/release-to-prod/pkg/clients/konflux"
	"github.com/release-to-prod/release-to-prod/pkg/step"
	"github.com/release-to-prod/release-to-prod/test/sandbox"
	"github.com/release-to-prod/release-to-prod/test/tenantsetup"
)

// TestTenantSetup: Konflux's own ClusterRoles (hosted, and self-hosted as the operator installs
// them), a user bound to the tenant admin role in the namespace, and the README's set-up script
// run as that user, as written. A step of it the admin may not perform fails here. Then, under
// what it set up: the preflight's ServiceAccount reads what the gates read and is refused a
// Release create (not-permitted, exit 3), create-release's ServiceAccount creates it, and the
// report's ServiceAccount records the run, or, where no role below admin writes ConfigMaps
// (hosted), says so in one line and keeps the outcome.
func TestTenantSetup(t *testing.T) {
	s := sandbox.New(t)

	for _, v := range []tenantsetup.Variant{tenantsetup.Hosted, tenantsetup.Upstream} {
		t.Run(string(v), func(t *testing.T) {
			tn := kxSeed(t, s, "setup-"+string(v), sandbox.TenantOptions{})
			setUpAsTenantAdmin(t, s, tn.Namespace, v)

			as := func(sa string, kv ...string) map[string]string {
				kubeconfig, _, err := s.ImpersonatingKubeconfig("system:serviceaccount:" + tn.Namespace + ":" + sa)
				require.NoError(t, err)
				e := kxEnv(s, tn, kv...)
				e["KUBECONFIG"] = kubeconfig
				return e
			}
			r := runStep(t, "check-konflux", as("release-to-prod", "PINNED_DIGEST", tn.Digest))
			require.Equal(t, 0, r.Code, r.Output)
			assert.Equal(t, "false", r.Results["ALREADY_RELEASED"])

			r = runStep(t, "create-release", as("release-to-prod", "SNAPSHOT", tn.Snapshot, "RELEASE_PLAN", tn.ReleasePlan, "WAIT", "false"))
			assert.Equal(t, step.ExitNotPermitted, r.Code, "the preflight's ServiceAccount may not create a Release: %s", r.Output)
			assert.Contains(t, r.Output, "the ServiceAccount may not create releases")
			assert.Contains(t, r.Output, "tenant-setup.sh")

			r = runStep(t, "create-release", as("release-to-prod-releaser", "SNAPSHOT", tn.Snapshot, "RELEASE_PLAN", tn.ReleasePlan, "WAIT", "false"))
			require.Equal(t, 0, r.Code, r.Output)
			assert.Equal(t, "Created", r.Results["RELEASE_STATUS"])

			name := konflux.ReleaseName(tn.Component, tn.SHA, tn.ReleasePlan)
			r = runStep(t, "record-history", as("release-to-prod", "STATUS", "Created", "RELEASE_NAME", name, "SNAPSHOT", tn.Snapshot))
			require.Equal(t, 0, r.Code, "a history the ServiceAccount may not write never fails the run: %s", r.Output)
			assert.Equal(t, "Created", r.Results["RELEASE_STATUS"], "the outcome stands")
			if v.SelfHosted() {
				assert.Equal(t, "1", r.Results["HISTORY_ENTRIES"])
				assert.Empty(t, r.Results["RECORD_NOTE"])
			} else {
				assert.Contains(t, r.Results["RECORD_NOTE"], "not recorded in ConfigMap release-history: the ServiceAccount may not create configmaps")
				assert.Contains(t, r.Output, "! history not recorded")
			}
		})
	}
}
