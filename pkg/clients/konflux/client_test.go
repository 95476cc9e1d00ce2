package konflux

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRESTConfigRateLimit: the client's own rate limit is kubectl's, not client-go's default of
// 5 requests a second that made a paged read of 10,000 Releases take 40 s.
func TestRESTConfigRateLimit(t *testing.T) {
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	require.NoError(t, os.WriteFile(kubeconfig, []byte(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:6443"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
`), 0o600))
	cfg, err := RESTConfig(kubeconfig)
	require.NoError(t, err)
	assert.InDelta(t, float32(ClientQPS), cfg.QPS, 0)
	assert.Equal(t, ClientBurst, cfg.Burst)
	assert.Equal(t, RequestTimeout, cfg.Timeout)
}
