package e2e

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/release-to-prod/release-to-prod/test/sandbox"
)

const sha = "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678"

func TestImageGate(t *testing.T) {
	s := sandbox.New(t)
	ctx := context.Background()
	single, err := s.SeedTenant(ctx, sandbox.TenantOptions{SHA: sha})
	require.NoError(t, err)
	multi, err := s.SeedTenant(ctx, sandbox.TenantOptions{SHA: sha, Namespace: "multi-tenant", Platforms: []string{"linux/amd64", "linux/arm64"}})
	require.NoError(t, err)
	unbuilt, err := s.SeedTenant(ctx, sandbox.TenantOptions{SHA: sha, Namespace: "unbuilt-tenant", NoImage: true})
	require.NoError(t, err)

	closed, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	deadAddr := closed.Addr().String()
	require.NoError(t, closed.Close())

	base := func(ns string) map[string]string {
		return map[string]string{"COMMIT_SHA": sha, "NAMESPACE": ns, "KUBECONFIG": s.Kubeconfig}
	}
	with := func(m map[string]string, kv ...string) map[string]string {
		out := map[string]string{}
		for k, v := range m {
			out[k] = v
		}
		for i := 0; i+1 < len(kv); i += 2 {
			out[kv[i]] = kv[i+1]
		}
		return out
	}

	tests := []struct {
		name       string
		env        map[string]string
		auth       bool
		wantCode   int
		outHas     []string
		results    map[string]string
		noRegistry bool // no registry request may be made
	}{
		{name: "found", env: base(single.Namespace), wantCode: 0,
			outHas:  []string{"✓ repository " + single.Repository + " (from Component automation-analytics-backend-main)", "✓ image " + single.Repository + ":" + sha + " exists: " + single.Digest},
			results: map[string]string{"STAGING_IMAGE": single.Repository, "PINNED_DIGEST": single.Digest, "PLATFORM_DIGESTS": ""}},
		{name: "multi-arch index", env: base(multi.Namespace), wantCode: 0,
			outHas: []string{"(linux/amd64, linux/arm64)", multi.Platforms["linux/arm64"]},
			results: map[string]string{"PINNED_DIGEST": multi.Digest,
				"PLATFORM_DIGESTS": "linux/amd64=" + multi.Platforms["linux/amd64"] + ",linux/arm64=" + multi.Platforms["linux/arm64"]}},
		{name: "not built yet", env: base(unbuilt.Namespace), wantCode: 1,
			outHas: []string{"not found in the staging registry", "likely cause: the image " + unbuilt.Repository + ":" + sha + " does not exist", "fix: check the build PipelineRun"}},
		{name: "registry wants credentials, none bound", env: base(single.Namespace), auth: true, wantCode: 1,
			outHas: []string{"401", "likely cause: the registry " + s.Registry.Host + " rejected the credentials", "none given"}},
		{name: "wrong credentials", env: with(base(single.Namespace), "DOCKER_CONFIG_FILE", "WRONG"), auth: true, wantCode: 1,
			outHas: []string{"rejected the credentials", "refresh the secret Secret release-to-prod-registry"}},
		{name: "right credentials", env: with(base(single.Namespace), "DOCKER_CONFIG_FILE", "RIGHT"), auth: true, wantCode: 0,
			outHas: []string{"exists: " + single.Digest}},
		{name: "no registry Secret under its default name", env: with(base(single.Namespace), "DOCKER_CONFIG_FILE", "/nonexistent/registry-credentials/.dockerconfigjson"), wantCode: 0,
			outHas: []string{"- registry credentials not configured (no Secret release-to-prod-registry in this namespace; registry_secret names another): pulling anonymously"}},
		{name: "a registry Secret the user named is absent", env: with(base(single.Namespace), "DOCKER_CONFIG_FILE", "/nonexistent/registry-credentials/.dockerconfigjson",
			"DOCKER_CONFIG_SECRET", "team-pull-secret"), wantCode: 2, noRegistry: true,
			outHas: []string{"Secret team-pull-secret (param registry_secret), key .dockerconfigjson: does not exist in this namespace",
				"kubectl create secret generic team-pull-secret --from-file=.dockerconfigjson=<file>"}},
		{name: "registry unreachable", env: with(base(single.Namespace), "REPOSITORY", deadAddr+"/team/app"), wantCode: 1,
			outHas: []string{"likely cause: cannot reach " + deadAddr, "egress"}},
		{name: "short SHA rejected before any call", env: with(base(single.Namespace), "COMMIT_SHA", "a1b2c3d", "KUBECONFIG", "/nonexistent"), wantCode: 2, noRegistry: true,
			outHas: []string{"short SHAs never exist as image tags: pass the full 40-character SHA"}},
		{name: "component missing", env: with(base(single.Namespace), "COMPONENT", "nope"), wantCode: 1,
			outHas: []string{"Component nope does not exist in namespace " + single.Namespace}},
	}
	dir := t.TempDir()
	writeCfg := func(name, user, pass string) string {
		p := filepath.Join(dir, name)
		auth := base64Auth(user, pass)
		require.NoError(t, os.WriteFile(p, []byte(`{"auths":{"`+s.Registry.Host+`":{"auth":"`+auth+`"}}}`), 0o600))
		return p
	}
	files := map[string]string{"WRONG": writeCfg("wrong.json", "robot", "nope"), "RIGHT": writeCfg("right.json", "robot", "s3cret-pw")}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.auth {
				s.Registry.RequireAuth("robot", "s3cret-pw")
				defer s.Registry.RequireAuth("", "")
			}
			env := map[string]string{}
			for k, v := range tt.env {
				if f, ok := files[v]; ok && k == "DOCKER_CONFIG_FILE" {
					v = f
				}
				env[k] = v
			}
			before := s.Registry.Hits("HEAD", "/v2/") + s.Registry.Hits("GET", "/v2/")
			r := runStep(t, "check-image", env)
			assert.Equal(t, tt.wantCode, r.Code)
			for _, want := range tt.outHas {
				assert.Contains(t, r.Output, want)
			}
			for k, v := range tt.results {
				assert.Equal(t, v, r.Results[k], "result %s", k)
			}
			if tt.wantCode != 0 {
				for k, v := range r.Results {
					assert.Empty(t, v, "a failed check pins nothing: result %s is empty", k)
				}
				assert.Contains(t, r.Output, "likely cause: "+strings.SplitN(r.Advice, "\n", 2)[0], "the advice left for the verdict is the one printed")
			}
			if tt.noRegistry {
				assert.Equal(t, before, s.Registry.Hits("HEAD", "/v2/")+s.Registry.Hits("GET", "/v2/"))
			}
			assert.NotContains(t, r.Output, "s3cret-pw")
		})
	}
}

// TestImageGateRoundTrips holds the gate to one HEAD per reference (DESIGN.md §6).
func TestImageGateRoundTrips(t *testing.T) {
	s := sandbox.New(t)
	tenant, err := s.SeedTenant(context.Background(), sandbox.TenantOptions{SHA: sha})
	require.NoError(t, err)
	path := "/v2/" + strings.TrimPrefix(tenant.Repository, s.Registry.Host+"/") + "/manifests/"
	heads, gets := s.Registry.Hits("HEAD", path), s.Registry.Hits("GET", path) // the seed's push made some
	r := runStep(t, "check-image", map[string]string{"COMMIT_SHA": sha, "KUBECONFIG": s.Kubeconfig})
	require.Equal(t, 0, r.Code)
	assert.Equal(t, 1, s.Registry.Hits("HEAD", path)-heads, "one HEAD for the tag")
	assert.Equal(t, 0, s.Registry.Hits("GET", path)-gets, "no manifest GET for a single-platform image")
}
