package image

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/release-to-prod/release-to-prod/pkg/step/failure"
)

func TestIsLoopback(t *testing.T) {
	for repo, want := range map[string]bool{
		"127.0.0.1:5000/a/b": true, "localhost:5000/a": true, "[::1]:5000/a": true, "localhost/a": true,
		"quay.io/a/b": false, "10.0.0.1:5000/a": false, "localhost.evil.com/a": false,
	} {
		assert.Equal(t, want, isLoopback(repo), repo)
	}
}

func TestRepositoryOf(t *testing.T) {
	tests := []struct{ in, want, err string }{
		{in: "quay.io/redhat-user-workloads/ns/app/comp", want: "quay.io/redhat-user-workloads/ns/app/comp"},
		{in: "quay.io/ns/comp:latest", want: "quay.io/ns/comp"},
		{in: "quay.io/ns/comp@sha256:" + strings.Repeat("a", 64), want: "quay.io/ns/comp"},
		{in: " quay.io/ns/comp \n", want: "quay.io/ns/comp"},
		{in: "quay.io/NS/$(rm)", err: "image repository"},
		{in: "../../etc/passwd", err: "does not start with a registry host"},
		{in: "redhat-user-workloads/ns/comp", err: "does not start with a registry host"},
		{in: "localhost:5000/a", want: "localhost:5000/a"},
	}
	for _, tt := range tests {
		got, err := repositoryOf(tt.in)
		if tt.err != "" {
			require.ErrorContains(t, err, tt.err)
			a, ok := failure.Explain(err)
			require.True(t, ok)
			assert.Equal(t, failure.InvalidInput, a.ID)
			continue
		}
		require.NoError(t, err)
		assert.Equal(t, tt.want, got)
	}
}

func TestPlatformsResult(t *testing.T) {
	got, err := PlatformsResult([]Platform{{"linux/amd64", "sha256:a"}, {"linux/arm64", "sha256:b"}})
	require.NoError(t, err)
	assert.Equal(t, "linux/amd64=sha256:a,linux/arm64=sha256:b", got)
	many := make([]Platform, 40)
	for i := range many {
		many[i] = Platform{"linux/amd64", "sha256:" + strings.Repeat("c", 64)}
	}
	_, err = PlatformsResult(many)
	a, ok := failure.Explain(err)
	require.True(t, ok)
	assert.Equal(t, failure.ResultsTooLarge, a.ID, "a too large index fails rather than being cut")
}
