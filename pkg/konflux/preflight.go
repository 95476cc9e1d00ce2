package konflux

import (
	"context"
	"strconv"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/labels"

	"github.com/release-to-prod/release-to-prod/pkg/commit"
	"github.com/release-to-prod/release-to-prod/pkg/failure"
	"github.com/release-to-prod/release-to-prod/pkg/step"
)

// PreflightConfig is the konflux-preflight step's configuration.
type PreflightConfig struct {
	step.Common
	CommitSHA        string        `check:"sha" env:"COMMIT_SHA, required" desc:"full 40-character SHA of the commit to release (lowercase hex; short SHAs never exist as image tags)"`
	Component        string        `check:"name" env:"COMPONENT, default=automation-analytics-backend-main" desc:"Konflux Component to release"`
	Namespace        string        `check:"name" env:"NAMESPACE, default=aap-aa-tenant" desc:"Konflux tenant namespace"`
	Application      string        `check:"name" env:"APPLICATION, default=aap-aa-main" desc:"Konflux Application of the component"`
	ReleasePlan      string        `check:"name" env:"RELEASE_PLAN" desc:"ReleasePlan to release through; empty: the only ReleasePlan of the application (the preflight chooses it)"`
	ImageDigest      string        `env:"IMAGE_DIGEST" desc:"digest of the staging image (sha256:…) that check-image pinned, the index digest for a multi-arch image"`
	HistoryConfigMap string        `check:"name" env:"HISTORY_CONFIGMAP, default=release-history" desc:"ConfigMap holding the release history (the project's Role grants access to release-history)"`
	Kubeconfig       string        `param:"-" env:"KUBECONFIG" desc:"kubeconfig file; empty: in-cluster ServiceAccount"`
	Timeout          time.Duration `param:"-" env:"TIMEOUT, default=2m" desc:"time limit for all the lookups"`
}

// Preflight is what the preflight found.
type Preflight struct {
	Snapshot        *Snapshot
	Image           string // the Snapshot's image of the component, by digest
	ReleasePlan     *ReleasePlan
	AlreadyReleased string // name of the Release (or history entry) that released the commit, if any
	LatestRelease   string
}

// fetched holds the independent reads, made in parallel so that the step costs one round trip
// of wall time rather than six.
type fetched struct {
	app         error
	comp        *Component
	compErr     error
	snaps       []Snapshot
	snapsErr    error
	plan        *ReleasePlan
	planErr     error
	releases    []Release
	releasesErr error
	history     []HistoryEntry
	historyErr  error
}

// RunPreflight is the konflux-preflight step: every Konflux object the release needs exists
// and agrees, one ✓/✗ line per check, then the results.
func RunPreflight(ctx context.Context, s *step.Step, cfg *PreflightConfig) error {
	sha, err := commit.ParseSHA(cfg.CommitSHA)
	if err != nil {
		return failure.Wrap(failure.InvalidInput, nil, err)
	}
	if err := required(map[string]string{"COMPONENT": cfg.Component, "NAMESPACE": cfg.Namespace, "APPLICATION": cfg.Application}); err != nil {
		return err
	}
	if cfg.HistoryConfigMap == "" {
		cfg.HistoryConfigMap = "release-history"
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 2 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	kc, err := NewClient(cfg.Kubeconfig, cfg.Namespace)
	if err != nil {
		return err
	}
	p, err := kc.Preflight(ctx, s, cfg, sha)
	if err != nil {
		return err
	}
	for _, r := range []struct{ name, value string }{
		{"SNAPSHOT", p.Snapshot.Name},
		{"RELEASE_PLAN", p.ReleasePlan.Name},
		{"ALREADY_RELEASED", strconv.FormatBool(p.AlreadyReleased != "")},
		{"LATEST_RELEASE", p.LatestRelease},
	} {
		if err := s.Result(r.name, r.value); err != nil {
			return err
		}
	}
	return nil
}

func required(vals map[string]string) error { return ValidNames(vals) }

// Preflight runs the checks and reports each on s.
func (c *Client) Preflight(ctx context.Context, s *step.Step, cfg *PreflightConfig, sha string) (*Preflight, error) {
	var f fetched
	var wg sync.WaitGroup
	wg.Go(func() { _, f.app = c.GetApplication(ctx, cfg.Application) })
	wg.Go(func() { f.comp, f.compErr = c.GetComponent(ctx, cfg.Component) })
	wg.Go(func() { f.snaps, f.snapsErr = c.ListSnapshots(ctx, cfg.Component, sha) })
	wg.Go(func() { f.plan, f.planErr = c.FindReleasePlan(ctx, cfg.ReleasePlan, cfg.Application) })
	wg.Go(func() {
		f.releases, f.releasesErr = c.ListReleases(ctx, labels.Set{LabelComponent: cfg.Component, LabelSHA: sha}.String())
	})
	wg.Go(func() { f.history, f.historyErr = c.ReadHistory(ctx, cfg.HistoryConfigMap) })
	wg.Wait()

	fail := func(err error, format string, args ...any) error {
		s.Fail(format, args...)
		return err
	}
	if f.app != nil {
		return nil, fail(f.app, "application %s", cfg.Application)
	}
	s.OK("application %s exists", cfg.Application)
	if f.compErr != nil {
		return nil, fail(f.compErr, "component %s", cfg.Component)
	}
	if f.comp.Application != cfg.Application {
		return nil, fail(failure.New(failure.ComponentNotInApplication,
			map[string]string{"component": cfg.Component, "actual": f.comp.Application, "application": cfg.Application, "namespace": cfg.Namespace},
			"Component %s belongs to application %q, not %s", cfg.Component, f.comp.Application, cfg.Application),
			"component %s is not in application %s", cfg.Component, cfg.Application)
	}
	s.OK("component %s belongs to application %s", cfg.Component, cfg.Application)

	p := &Preflight{}
	if f.snapsErr != nil {
		return nil, fail(f.snapsErr, "snapshot: listing the Snapshots of commit %s", sha)
	}
	snap, skipped, err := FindSnapshot(f.snaps, cfg.Component, sha, cfg.Namespace)
	for _, sk := range skipped {
		s.Info("  passed over Snapshot %s: %s", sk.Name, sk.State)
	}
	if err != nil {
		return nil, fail(err, "snapshot: none releasable among %d for commit %s", len(f.snaps), sha)
	}
	s.OK("snapshot %s (push, tests passed, created %s)", snap.Name, snap.Created.UTC().Format(time.RFC3339))
	p.Snapshot = snap

	image, digest, err := snap.Digest(cfg.Component)
	if err != nil {
		return nil, fail(failure.Wrap(failure.InvalidInput, nil, err), "snapshot image: %v", err)
	}
	p.Image = image
	switch {
	case cfg.ImageDigest == "":
		s.Skip("image digest not compared (IMAGE_DIGEST not given): releasing %s", image)
	case cfg.ImageDigest == digest:
		s.OK("snapshot image %s is the image the tag points at", image)
	default:
		repo := image[:len(image)-len(digest)-1]
		return nil, fail(failure.New(failure.DigestMismatch,
			map[string]string{"image": repo + ":" + sha, "registry_digest": cfg.ImageDigest, "snapshot_digest": digest},
			"Snapshot %s was made from %s but the tag %s:%s now points at %s", snap.Name, digest, repo, sha, cfg.ImageDigest),
			"image digest: Snapshot has %s, the registry tag has %s", digest, cfg.ImageDigest)
	}

	if f.planErr != nil {
		return nil, fail(f.planErr, "release plan for application %s", cfg.Application)
	}
	if err := f.plan.Ready(); err != nil {
		return nil, fail(err, "release plan %s is not ready", f.plan.Name)
	}
	s.OK("release plan %s (matched to %s, active)", f.plan.Name, f.plan.Admission)
	p.ReleasePlan = f.plan

	if f.releasesErr != nil {
		return nil, fail(f.releasesErr, "already released: listing the Releases of commit %s", sha)
	}
	if f.historyErr != nil {
		return nil, fail(f.historyErr, "already released: reading the release history %s", cfg.HistoryConfigMap)
	}
	p.AlreadyReleased, p.LatestRelease = c.alreadyReleased(s, f, cfg, sha)
	return p, nil
}

// alreadyReleased reports whether the commit went out through the plan already, from the
// Releases still in the namespace and from the history (Konflux deletes old Releases), and the
// latest Release of the component. The latest comes from the history: Releases cannot be
// sorted by the API server, and reading every Release of a component would make the step's
// time grow with the namespace.
func (c *Client) alreadyReleased(s *step.Step, f fetched, cfg *PreflightConfig, sha string) (released, latest string) {
	var newest *Release
	for i := range f.releases {
		r := &f.releases[i]
		if r.ReleasePlan != f.plan.Name && r.Labels[LabelReleasePlan] != f.plan.Name {
			continue
		}
		if newest == nil || r.Created.After(newest.Created) {
			newest = r
		}
		if done, ok := r.Done(); done && ok && released == "" {
			released = r.Name
			s.Warn("already released: Release %s of commit %s through %s succeeded", r.Name, sha, f.plan.Name)
		} else if !done {
			s.Info("  Release %s of this commit is in progress (%s)", r.Name, r.Phase())
		}
	}
	if released == "" {
		if e, ok := Released(f.history, cfg.Component, sha); ok {
			released = e.Release
			if released == "" {
				released = "history entry of " + e.Finished
			}
			s.Warn("already released: the history %s records Release %s of commit %s succeeded at %s", cfg.HistoryConfigMap, e.Release, sha, e.Finished)
		}
	}
	if released == "" {
		s.OK("not released yet: no succeeded Release of commit %s through %s (%d in the namespace, %d in history %s)",
			sha, f.plan.Name, len(f.releases), len(f.history), cfg.HistoryConfigMap)
	}
	if e, ok := Latest(f.history, cfg.Component); ok {
		latest = e.Release
		s.Info("  latest release of %s: %s (commit %s, %s, finished %s)", cfg.Component, e.Release, short(e.SHA), e.Status, e.Finished)
	}
	if newest != nil && latest == "" {
		latest = newest.Name
		s.Info("  latest release of %s: %s (this commit, %s)", cfg.Component, newest.Name, newest.Phase())
	}
	if latest == "" {
		s.Info("  no earlier release of %s recorded", cfg.Component)
	}
	return released, latest
}

func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}
