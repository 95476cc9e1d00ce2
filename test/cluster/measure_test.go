package cluster

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPullCounterCountsOnlyPulls(t *testing.T) {
	p := NewPullCounter()
	h := p.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(strings.Repeat("x", 100)))
	}))
	for _, req := range []struct{ method, path, agent string }{
		{http.MethodGet, "/v2/release-to-prod/check-image/manifests/0.1.0", "containerd/1.6.20"},
		{http.MethodGet, "/v2/release-to-prod/check-image/blobs/sha256:abc", "containerd/1.6.20"},
		{http.MethodGet, "/v2/tekton/entrypoint/blobs/sha256:def", "containerd/1.6.20"},
		{http.MethodHead, "/v2/release-to-prod/check-image/blobs/sha256:abc", "containerd/1.6.20"}, // no body: not a pull
		{http.MethodGet, "/v2/", "containerd/1.6.20"},                                              // the ping
		{http.MethodGet, "/v2/redhat-user-workloads/t/app/comp/manifests/sha", "go-containerregistry/v0.20"},
		{http.MethodPut, "/v2/release-to-prod/notify/manifests/0.1.0", "go-containerregistry/v0.20"},
	} {
		r := httptest.NewRequest(req.method, req.path, nil)
		r.Header.Set("User-Agent", req.agent)
		h.ServeHTTP(httptest.NewRecorder(), r)
	}
	got := p.Take()
	assert.Equal(t, PullCount{Requests: 3, Bytes: 300}, got.Node)
	assert.Equal(t, PullCount{Requests: 2, Bytes: 200}, got.NodeByRepo["release-to-prod/check-image"])
	assert.Equal(t, PullCount{Requests: 1, Bytes: 100}, got.NodeByRepo["tekton/entrypoint"])
	assert.Equal(t, PullCount{Requests: 1, Bytes: 100}, got.Other)
	assert.Equal(t, Pulls{NodeByRepo: map[string]PullCount{}}, p.Take(), "Take starts again from zero")
}

func TestStatSum(t *testing.T) {
	path := filepath.Join(t.TempDir(), "memory.stat")
	require.NoError(t, os.WriteFile(path, []byte("cache 4096\nrss 1000\nrss_huge 0\nmapped_file 24\ntotal_rss 99999\n"), 0o644))
	n, err := statSum(path, "rss", "mapped_file")
	require.NoError(t, err)
	assert.Equal(t, int64(1024), n, "rss + mapped_file, not rss_huge nor total_rss")
}

func TestIsContainerID(t *testing.T) {
	assert.True(t, isContainerID(strings.Repeat("0a", 32)))
	assert.False(t, isContainerID("pod"+strings.Repeat("0", 61)))
	assert.False(t, isContainerID(strings.Repeat("0A", 32)))
	assert.False(t, isContainerID("memory.stat"))
}
