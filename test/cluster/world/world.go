// Package world is the release on a test cluster: what a release runs against outside the
// tenant's namespace (the project's CRDs, the step images, the generated Pipeline, the Quay and
// release-service stand-ins: ReleaseWorld), tenant namespaces set up as a Konflux tenant admin
// does it (Tenant), their seeded Konflux objects, and the release's PipelineRuns — on the node
// (Tenant.Run, Tenant.Await: the PaC, bundle and tkn starts) and through tkn-local
// (Tenant.RunLocal). The demo, the benchmark and the node tests set it up alike.
package world

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	pipelinev1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/release-to-prod/release-to-prod/test/cluster"
	"github.com/release-to-prod/release-to-prod/test/sandbox"
)

// ReleaseWorld is what a release runs against on the node, outside the tenant's namespace: the
// project's CRDs, the step images, the generated Pipeline, a Quay API stand-in over HTTPS and a
// release-service stand-in that marks Releases released. The demo and the benchmark set it up
// as the release tests do.
type ReleaseWorld struct {
	Pipeline *pipelinev1.Pipeline
	Quay     *sandbox.QuayStub
	QuayURL  string // as pods see it
	// ImagesPushed is how long building and pushing the step images took.
	ImagesPushed time.Duration

	c    *cluster.Cluster
	root string
	rs   *sandbox.ReleaseService
}

// New sets up the world of the checkout at root on c. Stop stops the stand-ins.
func New(ctx context.Context, c *cluster.Cluster, root string) (*ReleaseWorld, error) {
	if err := c.InstallCRDs(filepath.Join(root, "test", "crds")); err != nil {
		return nil, err
	}
	// The upstream Konflux CRDs over the project's, as the sandbox does (CI points
	// $SANDBOX_UPSTREAM_CRDS at ../shared/konflux-crds): the node's runs then meet what a real
	// Konflux cluster accepts.
	if dir := os.Getenv(sandbox.UpstreamCRDsEnv); dir != "" {
		if err := c.InstallCRDs(dir); err != nil {
			return nil, fmt.Errorf("upstream CRDs (%s): %w", sandbox.UpstreamCRDsEnv, err)
		}
		fmt.Fprintf(c.Log(), "cluster: upstream Konflux CRDs installed from %s\n", dir)
	}
	start := time.Now()
	if err := c.PushStepImages(ctx, root); err != nil {
		return nil, err
	}
	w := &ReleaseWorld{ImagesPushed: time.Since(start), c: c, root: root, Quay: sandbox.NewQuayStub()}
	var err error
	if w.Pipeline, err = ReadPipeline(root); err != nil {
		return nil, err
	}
	addr, err := c.ServeTLS(w.Quay)
	if err != nil {
		return nil, err
	}
	w.QuayURL = "https://" + addr
	w.rs = (&sandbox.Sandbox{Dynamic: c.Dynamic}).StartReleaseService(time.Second)
	return w, nil
}

// Stop stops the release-service stand-in; the Quay stand-in goes with the cluster.
func (w *ReleaseWorld) Stop() { w.rs.Stop() }

// SeedTenant creates tenant namespace ns (NewTenant) with the Konflux world of commit sha in it
// (SeedKonflux: tests passed, the ReleasePlan matched and active) and a clean Quay scan of the
// commit's image.
func (w *ReleaseWorld) SeedTenant(ctx context.Context, ns, sha string) (*Tenant, *Konflux, error) {
	tn, err := NewTenant(ctx, w.c, w.root, ns)
	if err != nil {
		return nil, nil, err
	}
	img, err := CommitImage()
	if err != nil {
		return nil, nil, err
	}
	k, err := tn.SeedKonflux(ctx, KonfluxOptions{SHA: sha, Image: img, Tests: "True", Matched: true})
	if err != nil {
		return nil, nil, err
	}
	w.Quay.SetSecurity(k.QuayRepo, k.Digest, CleanScan())
	return tn, k, nil
}

// Params are a run's params for commit sha in tenant tn: the Quay stand-in, alerts and
// app-interface skipped (the node has no Alertmanager and no SaaS checkout), then kv overriding
// ("name", "value", …).
func (w *ReleaseWorld) Params(tn *Tenant, sha string, kv ...string) map[string]string {
	p := map[string]string{
		"commit_sha": sha, "namespace": tn.NS, "quay_api_url": w.QuayURL,
		"skip_alerts": "true", "skip_app_interface": "true",
		"progress_interval": "1s", "release_timeout": "2m", "scan_poll_timeout": "30s",
	}
	for i := 0; i+1 < len(kv); i += 2 {
		p[kv[i]] = kv[i+1]
	}
	return p
}

// Releases counts the Releases in tenant tn's namespace.
func (w *ReleaseWorld) Releases(ctx context.Context, tn *Tenant) (int, error) {
	l, err := w.c.Dynamic.Resource(sandbox.Releases).Namespace(tn.NS).List(ctx, metav1.ListOptions{})
	if err != nil {
		return 0, fmt.Errorf("Releases in %s: %w", tn.NS, err)
	}
	return len(l.Items), nil
}

// CommitImage is a small linux/amd64 image standing for a commit's build.
func CommitImage() (v1.Image, error) {
	img, err := random.Image(256, 1)
	if err != nil {
		return nil, fmt.Errorf("commit image: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("commit image: %w", err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		return nil, fmt.Errorf("commit image: %w", err)
	}
	return img, nil
}

// CleanScan is a Quay security report with nothing that blocks a release (one Low CVE).
func CleanScan() sandbox.Reply {
	return sandbox.QuayScanned(sandbox.QuayFeature{Name: "zlib", Version: "1.2.11-40.el9",
		Vulnerabilities: []sandbox.QuayVulnerability{{Name: "CVE-2023-45853", Severity: "Low"}}})
}
