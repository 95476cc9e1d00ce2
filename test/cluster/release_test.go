package cluster

import (
	"context"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	pipelinev1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"

	"github.com/release-to-prod/release-to-prod/pkg/history"
	"github.com/release-to-prod/release-to-prod/test/sandbox"
	"github.com/release-to-prod/release-to-prod/test/tools"
)

// releaseSHA is the commit the release scenarios release.
const releaseSHA = "3f786850e387550fdab836ed7e6dc881de23001b"

// konfluxTenant is a tenant namespace seeded as test/sandbox's SeedTenant seeds one, with the
// commit's image in the cluster's registry under the component's staging repository.
type konfluxTenant struct {
	*nodeTenant
	*Konflux
}

// seedKonflux seeds a tenant whose push Snapshot's tests ended with tests ("True", "False") and
// whose ReleasePlan is matched and active as matched says.
func seedKonflux(ctx context.Context, t *testing.T, c *Cluster, root, ns, tests string, matched bool) *konfluxTenant {
	t.Helper()
	tn := newNodeTenant(ctx, t, c, root, ns)
	k, err := tn.SeedKonflux(ctx, KonfluxOptions{SHA: releaseSHA, Image: commitImage(t), Tests: tests, Matched: matched})
	require.NoError(t, err)
	return &konfluxTenant{tn, k}
}

// commitImage is a small linux/amd64 image standing for the commit's build.
func commitImage(t *testing.T) v1.Image {
	t.Helper()
	img, err := random.Image(256, 1)
	require.NoError(t, err)
	cf, err := img.ConfigFile()
	require.NoError(t, err)
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	img, err = mutate.ConfigFile(img, cf)
	require.NoError(t, err)
	return img
}

// params are the run's params: the Quay stand-in at quayURL, alerts and app-interface skipped,
// kv overriding ("name", "value", …).
func (kt *konfluxTenant) params(quayURL string, kv ...string) map[string]string {
	p := map[string]string{
		"commit_sha": releaseSHA, "namespace": kt.NS, "quay_api_url": quayURL,
		"skip_alerts": "true", "skip_app_interface": "true",
		"progress_interval": "1s", "release_timeout": "2m", "scan_poll_timeout": "30s",
	}
	for i := 0; i+1 < len(kv); i += 2 {
		p[kv[i]] = kv[i+1]
	}
	return p
}

func (kt *konfluxTenant) history(ctx context.Context, t *testing.T, c *Cluster) []history.Entry {
	t.Helper()
	data, entries, err := kt.History(ctx)
	require.NoError(t, err)
	t.Logf("history: %s", truncate(data[history.Key], 1500))
	assert.NotContains(t, data[history.Key], "$(", "history entry with an unsubstituted Tekton reference")
	return entries
}

func (kt *konfluxTenant) releases(ctx context.Context, t *testing.T, c *Cluster) int {
	t.Helper()
	l, err := c.Dynamic.Resource(sandbox.Releases).Namespace(kt.NS).List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	return len(l.Items)
}

func cleanScan() sandbox.Reply {
	return sandbox.QuayScanned(sandbox.QuayFeature{Name: "zlib", Version: "1.2.11-40.el9",
		Vulnerabilities: []sandbox.QuayVulnerability{{Name: "CVE-2023-45853", Severity: "Low"}}})
}

// TestPipelineReleasesOnNode runs the generated Pipeline on the node against a Konflux world in
// the cluster: the project's CRDs, Application, Component, the commit's image in the cluster's
// registry, a push Snapshot, a ReleasePlan; Quay a stand-in over HTTPS; release-service a
// stand-in in the test process that marks Releases released through the cluster's API.
func TestPipelineReleasesOnNode(t *testing.T) {
	if testing.Short() {
		t.Skip("cluster: starts a Kubernetes node and the Tekton controller; not run with -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Minute)
	defer cancel()
	c := New(t, Options{Mirrors: []string{"quay.io"}})
	root, err := tools.Root()
	require.NoError(t, err)
	require.NoError(t, c.InstallCRDs(filepath.Join(root, "test", "crds")))

	buildStart := time.Now()
	pushStepImages(ctx, t, c, root)
	t.Logf("step images built (linux/%s) and pushed: %s", runtime.GOARCH, time.Since(buildStart).Round(time.Millisecond))

	p, err := ReadPipeline(root)
	require.NoError(t, err)

	quay := sandbox.NewQuayStub()
	quayAddr, err := c.ServeTLS(quay)
	require.NoError(t, err)
	quayURL := "https://" + quayAddr
	rs := (&sandbox.Sandbox{Dynamic: c.Dynamic}).StartReleaseService(time.Second)
	t.Cleanup(rs.Stop)

	t.Run("dry run", func(t *testing.T) {
		kt := seedKonflux(ctx, t, c, root, "tenant-dry-run", "True", true)
		quay.SetSecurity(kt.QuayRepo, kt.Digest, cleanScan())
		r := kt.run(ctx, t, c, p.Spec.DeepCopy(), kt.params(quayURL, "dry_run", "true"))
		assert.Equal(t, corev1.ConditionTrue, r.Cond.Status, "the run must succeed")
		assert.True(t, r.reported(), "the finally task report must run and succeed")
		assert.Zero(t, kt.releases(ctx, t, c), "a dry run creates no Release")
		if h := kt.history(ctx, t, c); assert.Len(t, h, 1) {
			assert.Equal(t, "DryRun", h[0].Status)
		}
		if assert.Len(t, r.Posts, 1) {
			assert.Contains(t, r.Posts[0], "Dry run passed")
		}
	})

	t.Run("success then already released", func(t *testing.T) {
		kt := seedKonflux(ctx, t, c, root, "tenant-release", "True", true)
		quay.SetSecurity(kt.QuayRepo, kt.Digest, cleanScan())
		r := kt.run(ctx, t, c, p.Spec.DeepCopy(), kt.params(quayURL))
		assert.Equal(t, corev1.ConditionTrue, r.Cond.Status, "the run must succeed")
		assert.True(t, r.reported(), "the finally task report must run and succeed")
		assert.Equal(t, 1, kt.releases(ctx, t, c), "one Release")
		if h := kt.history(ctx, t, c); assert.Len(t, h, 1) {
			assert.Equal(t, "Succeeded", h[0].Status)
		}
		if assert.Len(t, r.Posts, 1) {
			assert.Contains(t, r.Posts[0], "Released")
		}

		r = kt.run(ctx, t, c, p.Spec.DeepCopy(), kt.params(quayURL))
		assert.Equal(t, corev1.ConditionTrue, r.Cond.Status, "the second run must succeed")
		if cr := r.taskRun("create-release"); cr != nil {
			t.Errorf("the second run ran create-release (TaskRun %s)", cr.Name)
		}
		assert.Equal(t, 1, kt.releases(ctx, t, c), "still one Release")
		if h := kt.history(ctx, t, c); assert.Len(t, h, 2) {
			assert.Equal(t, "AlreadyReleased", h[0].Status)
		}
		if assert.Len(t, r.Posts, 1) {
			assert.Contains(t, r.Posts[0], "Already released")
		}
	})
	t.Run("a step exceeds its memory limit", func(t *testing.T) {
		kt := seedKonflux(ctx, t, c, root, "tenant-oom", "True", true)
		quay.SetSecurity(kt.QuayRepo, kt.Digest, cleanScan())
		spec := p.Spec.DeepCopy()
		withMemoryLimit("konflux-preflight", "8Mi")(spec)
		r := kt.run(ctx, t, c, spec, kt.params(quayURL))
		assert.Equal(t, corev1.ConditionFalse, r.Cond.Status, "the run must fail")
		assert.True(t, r.reported(), "the finally task report must run and succeed")
		assert.Zero(t, kt.releases(ctx, t, c), "no Release")
		if h := kt.history(ctx, t, c); assert.Len(t, h, 1) {
			assert.Equal(t, "Blocked", h[0].Status)
			assert.Contains(t, h[0].Cause, "OOMKilled", "the history says why")
		}
		if assert.Len(t, r.Posts, 1) {
			assert.Contains(t, r.Posts[0], "OOMKilled", "Slack says why")
		}
	})

	t.Run("every gate fails", func(t *testing.T) {
		// Tests failed, the ReleasePlan neither matched nor active, the image not where the
		// run looks for it, a critical CVE, an Alertmanager nobody answers at, app-interface
		// asked for and not bound: every gate writes its part of the summary, and the
		// preflight's results must still fit in its termination messages.
		kt := seedKonflux(ctx, t, c, root, "tenant-all-fail", "False", false)
		quay.SetSecurity(kt.QuayRepo, kt.Digest, sandbox.QuayScanned(sandbox.QuayFeature{Name: "openssl", Version: "3.0.7-1.el9",
			Vulnerabilities: []sandbox.QuayVulnerability{{Name: "CVE-2024-0001", Severity: "Critical", FixedBy: "3.0.7-2.el9"}}}))
		r := kt.run(ctx, t, c, p.Spec.DeepCopy(), kt.params(quayURL,
			"skip_alerts", "false", "alertmanager_url", "https://"+bridgeIP+":1",
			"skip_app_interface", "false", "repository", c.Registry.Host+"/nowhere/"+kt.NS))
		assert.Equal(t, corev1.ConditionFalse, r.Cond.Status, "the run must fail")
		assert.True(t, r.reported(), "the finally task report must run and succeed")
		assert.Zero(t, kt.releases(ctx, t, c), "no Release")
		pre := r.taskRun("preflight")
		require.NotNil(t, pre, "the preflight TaskRun")
		results := map[string]string{}
		for _, res := range pre.Status.Results {
			results[res.Name] = res.Value.StringVal
		}
		t.Logf("preflight results: %d, GATE_SUMMARY %d bytes, FAILURE_CAUSE %d bytes", len(results), len(results["GATE_SUMMARY"]), len(results["FAILURE_CAUSE"]))
		assert.NotEmpty(t, results["GATE_SUMMARY"], "GATE_SUMMARY kept")
		assert.NotEmpty(t, results["FAILURE_CAUSE"], "FAILURE_CAUSE kept")
		assert.Equal(t, "image,konflux,alerts,vulnerabilities,app-interface", results["FAILED_GATES"], "every gate failed")
		if h := kt.history(ctx, t, c); assert.Len(t, h, 1) {
			assert.Equal(t, "Blocked", h[0].Status)
			assert.NotEmpty(t, strings.TrimSpace(h[0].Cause), "the history says why")
		}
		assert.Len(t, r.Posts, 1)
	})
}

// withMemoryLimit returns a mutation that gives step a memory limit of limit and drops its
// GOMEMLIMIT, so that the Go runtime does not try to stay under it.
func withMemoryLimit(step, limit string) func(*pipelinev1.PipelineSpec) {
	return func(s *pipelinev1.PipelineSpec) {
		for i := range s.Tasks {
			for j := range s.Tasks[i].TaskSpec.Steps {
				st := &s.Tasks[i].TaskSpec.Steps[j]
				if st.Name != step {
					continue
				}
				q := resource.MustParse(limit)
				st.ComputeResources.Limits[corev1.ResourceMemory] = q
				st.ComputeResources.Requests[corev1.ResourceMemory] = q
				st.Env = slices.DeleteFunc(st.Env, func(e corev1.EnvVar) bool { return e.Name == "GOMEMLIMIT" })
			}
		}
	}
}
