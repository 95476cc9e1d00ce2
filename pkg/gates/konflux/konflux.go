// Package konflux is the check-konflux step: every Konflux object the release needs exists
// and agrees, and the commit is not released already.
package konflux

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/release-to-prod/release-to-prod/pkg/actions/history"
	konfluxapi "github.com/release-to-prod/release-to-prod/pkg/clients/konflux"
	"github.com/release-to-prod/release-to-prod/pkg/step"
	"github.com/release-to-prod/release-to-prod/pkg/step/commit"
	"github.com/release-to-prod/release-to-prod/pkg/step/failure"
	"github.com/release-to-prod/release-to-prod/pkg/step/outcome"
)

// Config is the check-konflux step's configuration.
type Config struct {
	step.Common
	step.Subject
	konfluxapi.ReleaseOptions
	ReleasePlan        string `check:"name" env:"RELEASE_PLAN" desc:"ReleasePlan to release through; empty: the only ReleasePlan of the application (the preflight chooses it)"`
	ImageDigest        string `env:"PINNED_DIGEST" desc:"digest of the staging image (sha256:…) that check-image pinned, the index digest for a multi-arch image"`
	AllowOlderSnapshot string `check:"bool" env:"ALLOW_OLDER_SNAPSHOT, default=false" desc:"true: when the newest push Snapshot of the commit failed its tests (or is still running them), release an older one of the same commit that passed; default: the newest test evidence wins and the release blocks"`
	history.Location
	konfluxapi.Access
	Timeout time.Duration `param:"-" env:"TIMEOUT, default=2m" desc:"time limit for all the lookups"`
}

// The Konflux gate's results.
const (
	ResultSnapshot        step.ResultName = "SNAPSHOT"
	ResultReleasePlan     step.ResultName = "RELEASE_PLAN"
	ResultAlreadyReleased step.ResultName = "ALREADY_RELEASED"
	ResultExistingRelease step.ResultName = "EXISTING_RELEASE"
	ResultLatestRelease   step.ResultName = "LATEST_RELEASE"
)

// settings are the Config values parsed.
type settings struct {
	konfluxapi.ReleaseChoices
	sha        string
	allowOlder bool
}

// Preflight is what the preflight found.
type Preflight struct {
	Snapshot        *konfluxapi.Snapshot
	Image           string // the Snapshot's image of the component, by digest
	ReleasePlan     *konfluxapi.ReleasePlan
	AlreadyReleased string // name of the Release (or history entry) that released the commit, if any
	Existing        string // a Release of the commit still running, to wait on instead of creating one
	LatestRelease   string
}

// fetched holds the independent reads, made in parallel so that the step costs one round trip
// of wall time rather than five.
type fetched struct {
	app        error
	comp       *konfluxapi.Component
	compErr    error
	snaps      []konfluxapi.Snapshot
	snapsErr   error
	plan       *konfluxapi.ReleasePlan
	planErr    error
	history    []history.Entry
	historyErr error
}

func parse(cfg *Config) (settings, error) {
	var st settings
	sha, err := commit.ParseSHA(cfg.CommitSHA)
	if err != nil {
		return st, failure.Wrap(failure.InvalidInput, nil, err)
	}
	st.sha = sha
	if err := konfluxapi.ValidNames(map[string]string{"COMPONENT": cfg.Component, "NAMESPACE": cfg.Namespace}); err != nil {
		return st, err
	}
	if st.ReleaseChoices, err = cfg.ReleaseOptions.Parse(cfg.Application); err != nil {
		return st, err
	}
	if st.allowOlder, err = step.ParseBool("ALLOW_OLDER_SNAPSHOT", cfg.AllowOlderSnapshot, false); err != nil {
		return st, err
	}
	return st, nil
}

// Run is the check-konflux step: every Konflux object the release needs exists and agrees,
// one ✓/✗ line per check, then the results.
func Run(ctx context.Context, s *step.Step, cfg *Config) error {
	st, err := parse(cfg)
	if err != nil {
		return err
	}
	cfg.HistoryConfigMap = cfg.ConfigMap()
	ctx, cancel, kc, err := cfg.Connect(ctx, cfg.Namespace, cfg.Timeout)
	defer cancel()
	if err != nil {
		return err
	}
	p, err := check(ctx, kc, s, cfg, st)
	if err != nil {
		return err
	}
	for _, r := range []struct {
		name  step.ResultName
		value string
	}{
		{ResultSnapshot, p.Snapshot.Name},
		{ResultReleasePlan, p.ReleasePlan.Name},
		{ResultAlreadyReleased, strconv.FormatBool(p.AlreadyReleased != "")},
		{ResultExistingRelease, p.Existing},
		{ResultLatestRelease, p.LatestRelease},
	} {
		if err := s.Result(r.name, r.value); err != nil {
			return err
		}
	}
	return nil
}

// check runs the checks and reports each on s.
func check(ctx context.Context, c *konfluxapi.Client, s *step.Step, cfg *Config, st settings) (*Preflight, error) {
	var f fetched
	var wg sync.WaitGroup
	if st.Owner.ComponentGroup == "" {
		wg.Go(func() { _, f.app = c.GetApplication(ctx, cfg.Application) })
	}
	wg.Go(func() { f.comp, f.compErr = c.GetComponent(ctx, cfg.Component) })
	wg.Go(func() { f.snaps, f.snapsErr = c.ListSnapshots(ctx, cfg.Component, st.sha) })
	wg.Go(func() { f.plan, f.planErr = c.FindReleasePlan(ctx, cfg.ReleasePlan, st.Owner) })
	wg.Go(func() { f.history, f.historyErr = history.Read(ctx, c, cfg.HistoryConfigMap) })
	wg.Wait()

	if err := checkComponent(s, cfg, st, f); err != nil {
		return nil, err
	}
	p := &Preflight{}
	snap, err := chooseSnapshot(s, cfg, st, f)
	if err != nil {
		return nil, err
	}
	p.Snapshot = snap
	if p.Image, err = checkDigest(s, cfg, st.sha, snap); err != nil {
		return nil, err
	}
	if p.ReleasePlan, err = checkPlan(ctx, c, s, cfg, st, f, snap); err != nil {
		return nil, err
	}
	if f.historyErr != nil {
		return nil, fail(s, f.historyErr, "already released: reading the release history %s", cfg.HistoryConfigMap)
	}
	if err := alreadyReleased(ctx, c, s, cfg, st, f, p); err != nil {
		return nil, err
	}
	if p.AlreadyReleased == "" && p.Existing == "" {
		if err := checkOrder(ctx, c, s, cfg, st, f.history, snap, p.ReleasePlan.Name); err != nil {
			return nil, err
		}
	}
	p.LatestRelease = latest(s, cfg, f.history, p)
	return p, nil
}

func fail(s *step.Step, err error, format string, args ...any) error {
	s.Fail(format, args...)
	return err
}

func checkComponent(s *step.Step, cfg *Config, st settings, f fetched) error {
	if st.Owner.ComponentGroup == "" {
		if f.app != nil {
			return fail(s, f.app, "application %s", cfg.Application)
		}
		s.OK("application %s exists", cfg.Application)
	}
	if f.compErr != nil {
		return fail(s, f.compErr, "component %s", cfg.Component)
	}
	if st.Owner.ComponentGroup != "" {
		s.OK("component %s exists; released with componentGroup %s", cfg.Component, st.Owner.ComponentGroup)
		return nil
	}
	if f.comp.Application != cfg.Application {
		return fail(s, failure.New(failure.ComponentNotInApplication,
			map[string]string{"component": cfg.Component, "actual": f.comp.Application, "application": cfg.Application, "namespace": cfg.Namespace},
			"Component %s belongs to application %q, not %s", cfg.Component, f.comp.Application, cfg.Application),
			"component %s is not in application %s", cfg.Component, cfg.Application)
	}
	s.OK("component %s belongs to application %s", cfg.Component, cfg.Application)
	return nil
}

// chooseSnapshot picks the Snapshot of the commit for the application (or componentGroup):
// Snapshots made for another one are passed over, the rest chosen by konflux.FindSnapshot.
func chooseSnapshot(s *step.Step, cfg *Config, st settings, f fetched) (*konfluxapi.Snapshot, error) {
	if f.snapsErr != nil {
		return nil, fail(s, f.snapsErr, "snapshot: listing the Snapshots of commit %s", st.sha)
	}
	var mine []konfluxapi.Snapshot
	for _, sn := range f.snaps {
		switch {
		case st.Owner.ComponentGroup != "" && sn.ComponentGroup != st.Owner.ComponentGroup:
			s.Info("  passed over Snapshot %s: not for componentGroup %s", sn.Name, st.Owner.ComponentGroup)
		case st.Owner.ComponentGroup == "" && sn.Application == "" && sn.ComponentGroup == "":
			// The release service refuses a Release whose Snapshot's spec.application is not the
			// ReleasePlan's (validateApplication), an empty one included.
			s.Info("  passed over Snapshot %s: its spec.application is empty, not %s (the release service would refuse it)", sn.Name, cfg.Application)
		case st.Owner.ComponentGroup == "" && (sn.ComponentGroup != "" || sn.Application != cfg.Application):
			s.Info("  passed over Snapshot %s: not for application %s", sn.Name, cfg.Application)
		default:
			mine = append(mine, sn)
		}
	}
	snap, skipped, err := konfluxapi.FindSnapshot(mine, cfg.Component, st.sha, cfg.Namespace, konfluxapi.SnapshotChoice{AllowOlder: st.allowOlder})
	for _, sk := range skipped {
		if sk.Message != "" && (sk.State == konfluxapi.SnapshotCanceled || sk.State == konfluxapi.SnapshotFailed) {
			s.Info("  passed over Snapshot %s: %s (%s)", sk.Name, sk.State, clip(sk.Message, 120))
		} else {
			s.Info("  passed over Snapshot %s: %s", sk.Name, sk.State)
		}
	}
	if err != nil {
		return nil, fail(s, err, "snapshot: none releasable among %d for commit %s", len(f.snaps), st.sha)
	}
	for _, sk := range skipped {
		if st.allowOlder && (sk.State == konfluxapi.SnapshotFailed || sk.State == konfluxapi.SnapshotRunning) {
			s.Warn("releasing Snapshot %s although newer Snapshot %s of this commit is not releasable (%s): ALLOW_OLDER_SNAPSHOT=true", snap.Name, sk.Name, sk.State)
			break
		}
	}
	s.OK("snapshot %s (push, tests passed, built %s)", snap.Name, snap.BuiltAt().UTC().Format(time.RFC3339))
	return snap, nil
}

func checkDigest(s *step.Step, cfg *Config, sha string, snap *konfluxapi.Snapshot) (string, error) {
	image, digest, err := snap.Digest(cfg.Component, sha)
	if err != nil {
		return "", fail(s, failure.Wrap(failure.InvalidInput, nil, err), "snapshot image: %v", err)
	}
	switch {
	case cfg.ImageDigest == "":
		s.Skip("image digest not compared (PINNED_DIGEST not given): releasing %s", image)
	case cfg.ImageDigest == digest:
		s.OK("snapshot image %s is the image the tag points at", image)
	default:
		repo := image[:len(image)-len(digest)-1]
		return "", fail(s, failure.New(failure.DigestMismatch,
			map[string]string{"image": repo + ":" + cfg.CommitSHA, "registry_digest": cfg.ImageDigest, "snapshot_digest": digest},
			"Snapshot %s was made from %s but the tag %s:%s now points at %s", snap.Name, digest, repo, cfg.CommitSHA, cfg.ImageDigest),
			"image digest: Snapshot has %s, the registry tag has %s", digest, cfg.ImageDigest)
	}
	return image, nil
}

// checkPlan checks the ReleasePlan is ready and decides what its auto-release means.
func checkPlan(ctx context.Context, c *konfluxapi.Client, s *step.Step, cfg *Config, st settings, f fetched, snap *konfluxapi.Snapshot) (*konfluxapi.ReleasePlan, error) {
	if f.planErr != nil {
		return nil, fail(s, f.planErr, "release plan for %s", st.Owner)
	}
	ready, err := c.PlanReady(ctx, f.plan)
	if err != nil {
		return nil, fail(s, err, "release plan %s is not ready", f.plan.Name)
	}
	s.OK("release plan %s (%s)", f.plan.Name, ready)
	auto, why := f.plan.AutoRelease(snap)
	switch {
	case !auto && st.Observe:
		return nil, fail(s, failure.New(failure.InvalidInput, nil, "AUTO_RELEASE=observe needs a ReleasePlan that auto-releases; %s does not (%s): use auto_release=block", f.plan.Name, why),
			"release plan %s does not auto-release (%s), but AUTO_RELEASE=observe: nothing would create the Release", f.plan.Name, why)
	case !auto:
		s.OK("release plan %s does not auto-release (%s): these gates decide", f.plan.Name, why)
	case st.Observe:
		s.OK("release plan %s auto-releases (%s): observe mode, the Release integration-service creates is reported", f.plan.Name, why)
	default:
		return nil, fail(s, failure.New(failure.ReleasePlanAutoRelease, map[string]string{"plan": f.plan.Name, "why": why, "namespace": cfg.Namespace},
			"ReleasePlan %s auto-releases: %s", f.plan.Name, why),
			"release plan %s auto-releases (%s): integration-service would release without these gates", f.plan.Name, why)
	}
	return f.plan, nil
}

// alreadyReleased reads every Release of the commit's Snapshots through the plan, whoever made
// it, and the history (Konflux deletes old Releases): one in production, or a history entry that
// says so, means released; one running is waited on by create-release; ones that failed allow a
// new Release and are named.
func alreadyReleased(ctx context.Context, c *konfluxapi.Client, s *step.Step, cfg *Config, st settings, f fetched, p *Preflight) error {
	names := make([]string, len(f.snaps))
	for i, sn := range f.snaps {
		names[i] = sn.Name
	}
	rels, err := c.ReleasesOfCommit(ctx, cfg.Component, st.sha, names)
	if err != nil {
		return fail(s, err, "already released: listing the Releases of commit %s", st.sha)
	}
	cr := konfluxapi.Classify(rels, p.ReleasePlan.Name)
	for _, r := range cr.Failed {
		s.Info("  Release %s of Snapshot %s (made by %s) failed: it does not block a new Release", r.Name, r.Snapshot, r.Made())
	}
	switch {
	case cr.Released == nil && len(cr.Doubtful) > 0:
		d := cr.Doubtful[0]
		why, _, _ := d.Doubt()
		return fail(s, d.DoubtError(cfg.Namespace), "already released? Release %s of Snapshot %s (made by %s) did not succeed but may be in production: %s", d.Name, d.Snapshot, d.Made(), why)
	case cr.Released != nil:
		p.AlreadyReleased = cr.Released.Name
		if done, ok := cr.Released.Done(); done && ok {
			s.Warn("already released: Release %s of Snapshot %s (made by %s) through %s succeeded", cr.Released.Name, cr.Released.Snapshot, cr.Released.Made(), p.ReleasePlan.Name)
		} else {
			s.Warn("already released: the managed pipeline of Release %s (Snapshot %s) succeeded, so the commit is in production; a later phase did not (%s)", cr.Released.Name, cr.Released.Snapshot, cr.Released.Phase())
		}
		return nil
	}
	// The history outlives the Releases Konflux garbage-collects; a commit it says is released
	// is not released again, even while another Release of it runs.
	if e, ok := history.Released(f.history, cfg.Component, st.sha); ok {
		p.AlreadyReleased = e.Release
		if p.AlreadyReleased == "" {
			p.AlreadyReleased = "history entry of " + e.Finished
		}
		s.Warn("already released: the history %s records Release %s of commit %s succeeded at %s", cfg.HistoryConfigMap, e.Release, st.sha, e.Finished)
		return nil
	}
	if e, ok := doubtfulInHistory(f.history, cfg.Component, st.sha); ok {
		err := failure.New(failure.ReleaseMayBeInProduction, map[string]string{"release": e.Release, "snapshot": e.Snapshot, "namespace": cfg.Namespace,
			"why": "the history " + cfg.HistoryConfigMap + " records it as " + outcome.Doubtful + " (" + e.Finished + ")", "check": "what that Release's managed PipelineRun pushed, then record the answer"},
			"the history %s records Release %s of commit %s as %s: its content may be in production", cfg.HistoryConfigMap, e.Release, st.sha, outcome.Doubtful)
		return fail(s, err, "already released? the history %s records Release %s of commit %s as %s (may be in production)", cfg.HistoryConfigMap, e.Release, short(st.sha), outcome.Doubtful)
	}
	switch {
	case len(cr.Running) > 0:
		r := cr.Running[0]
		p.Existing = r.Name
		s.OK("Release %s of Snapshot %s (made by %s) is in progress (%s): create-release waits on it instead of creating another", r.Name, r.Snapshot, r.Made(), r.Phase())
		return nil
	}
	s.OK("not released yet: no Release of commit %s through %s in production or in progress (%d of its Releases in the namespace, %d entries in history %s)",
		st.sha, p.ReleasePlan.Name, len(rels), len(f.history), cfg.HistoryConfigMap)
	return nil
}

// doubtfulInHistory returns the newest entry of component at sha, when it says Doubtful: a later
// Succeeded entry (someone checked and released) supersedes it.
func doubtfulInHistory(entries []history.Entry, component, sha string) (history.Entry, bool) {
	for _, e := range entries {
		if e.Component == component && e.SHA == sha && (e.Status == outcome.Doubtful || outcome.IsReleased(e.Status)) {
			return e, e.Status == outcome.Doubtful
		}
	}
	return history.Entry{}, false
}

func latest(s *step.Step, cfg *Config, entries []history.Entry, p *Preflight) string {
	if e, ok := history.Latest(entries, cfg.Component); ok {
		s.Info("  latest release of %s: %s (commit %s, %s, finished %s)", cfg.Component, e.Release, short(e.SHA), e.Status, e.Finished)
		return e.Release
	}
	for _, name := range []string{p.AlreadyReleased, p.Existing} {
		if name != "" && !strings.HasPrefix(name, "history entry") {
			s.Info("  latest release of %s: %s (this commit)", cfg.Component, name)
			return name
		}
	}
	s.Info("  no earlier release of %s recorded", cfg.Component)
	return ""
}

func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}

func clip(s string, n int) string { return step.ClipRunes(s, n) }
