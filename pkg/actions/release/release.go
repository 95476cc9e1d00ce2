// Package release is the create-release step: it creates the Konflux Release of the commit under
// a deterministic name — unless a Release of the commit's Snapshots exists already, whoever made
// it, in which case it reports that one or waits on it — and waits for its outcome.
package release

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/release-to-prod/release-to-prod/pkg/clients/konflux"
	"github.com/release-to-prod/release-to-prod/pkg/step"
	"github.com/release-to-prod/release-to-prod/pkg/step/commit"
	"github.com/release-to-prod/release-to-prod/pkg/step/failure"
	"github.com/release-to-prod/release-to-prod/pkg/step/outcome"
)

// Config is the create-release step's configuration.
type Config struct {
	step.Common
	step.Subject
	konflux.ReleaseOptions
	Snapshot        string `env:"SNAPSHOT, required" desc:"Snapshot to release (the preflight's SNAPSHOT result)"`
	ReleasePlan     string `env:"RELEASE_PLAN, required" desc:"ReleasePlan to release through; empty: the only ReleasePlan of the application (the preflight chooses it)"`
	ExistingRelease string `env:"EXISTING_RELEASE" desc:"a Release of the commit found running by the preflight (its EXISTING_RELEASE result): waited on instead of creating one; empty: the step looks for one itself"`
	konflux.Access
	DryRun           string        `check:"bool" env:"DRY_RUN, default=false" desc:"true runs every gate and prints the Release it would create, without creating it"`
	Automated        string        `check:"bool" env:"AUTOMATED, default=false" desc:"true when started by automation: recorded in the Release's annotation release-to-prod/started-by (the release service's automated label is never set: only integration-service may)"`
	Wait             string        `check:"bool" env:"WAIT, default=true" desc:"true: wait for the Release to finish; false: return once created"`
	Timeout          time.Duration `check:"period" param:"release_timeout" env:"TIMEOUT, default=1h" desc:"how long to wait for the Release to finish (in observe mode: to appear and finish)"`
	ProgressInterval time.Duration `check:"period" env:"PROGRESS_INTERVAL, default=30s" desc:"how often to print progress while waiting (Go duration)"`
	PipelineRun      string        `env:"PIPELINE_RUN" desc:"name of the PipelineRun, for the record"`      // on the Release: label and annotation release-to-prod/pipelinerun
	Gates            string        `env:"GATES_PASSED" desc:"the preflight's GATE_SUMMARY, for the record"` // on the Release: annotation release-to-prod/gates
}

// The step's results.
const (
	ResultReleaseName   step.ResultName = "RELEASE_NAME"
	ResultReleaseStatus step.ResultName = "RELEASE_STATUS"
)

// requestTimeout bounds one API call; the wait as a whole is bounded by TIMEOUT.
const requestTimeout = 30 * time.Second

// maxAttempts bounds the Release names tried after Releases of the commit that failed.
const maxAttempts = 20

type settings struct {
	konflux.ReleaseChoices
	dry, automated, wait bool
}

func parse(cfg *Config) (string, settings, error) {
	var st settings
	sha, err := commit.ParseSHA(cfg.CommitSHA)
	if err != nil {
		return "", st, failure.Wrap(failure.InvalidInput, nil, err)
	}
	names := map[string]string{"COMPONENT": cfg.Component, "NAMESPACE": cfg.Namespace, "SNAPSHOT": cfg.Snapshot, "RELEASE_PLAN": cfg.ReleasePlan}
	if cfg.ExistingRelease != "" {
		names["EXISTING_RELEASE"] = cfg.ExistingRelease
	}
	if err := konflux.ValidNames(names); err != nil {
		return "", st, err
	}
	if st.ReleaseChoices, err = cfg.ReleaseOptions.Parse(cfg.Application); err != nil {
		return "", st, err
	}
	for _, b := range []struct {
		name, value string
		def         bool
		to          *bool
	}{{"DRY_RUN", cfg.DryRun, false, &st.dry}, {"AUTOMATED", cfg.Automated, false, &st.automated}, {"WAIT", cfg.Wait, true, &st.wait}} {
		if *b.to, err = step.ParseBool(b.name, b.value, b.def); err != nil {
			return "", st, err
		}
	}
	if err := errors.Join(step.Positive("TIMEOUT", cfg.Timeout), step.Positive("PROGRESS_INTERVAL", cfg.ProgressInterval)); err != nil {
		return "", st, err
	}
	return sha, st, nil
}

// Run is the create-release step. Exactly one Release per commit and plan goes to production:
// a Release of the commit's Snapshots that is in production already is reported; one still
// running (a racing run's, integration-service's, a person's) is waited on and its outcome
// reported; Releases that failed allow a new one, under the next deterministic name, which
// racing runs compute alike so that the API server lets exactly one create it.
func Run(ctx context.Context, s *step.Step, cfg *Config) error {
	sha, st, err := parse(cfg)
	if err != nil {
		return err
	}
	req := konflux.ReleaseRequest{Component: cfg.Component, Application: st.Owner.Application, ComponentGroup: st.Owner.ComponentGroup,
		SHA: sha, Snapshot: cfg.Snapshot, ReleasePlan: cfg.ReleasePlan, Automated: st.automated, RunID: newRunID(), Attempt: 1,
		PipelineRun: cfg.PipelineRun, Gates: cfg.Gates}
	if st.dry {
		return dryRun(ctx, s, cfg, st, req)
	}
	kc, err := cfg.Client(cfg.Namespace)
	if err != nil {
		return err
	}
	r := &run{s: s, cfg: cfg, st: st, kc: kc, req: req}
	return r.release(ctx)
}

// run is one create-release.
type run struct {
	s   *step.Step
	cfg *Config
	st  settings
	kc  *konflux.Client
	req konflux.ReleaseRequest
}

func (r *run) release(ctx context.Context) error {
	existing, err := r.existing(ctx)
	if err != nil {
		return err
	}
	switch {
	case existing.Released != nil:
		return r.alreadyReleased(existing.Released)
	case len(existing.Doubtful) > 0:
		return r.doubtful(existing.Doubtful[0])
	case len(existing.Running) > 0:
		rel := existing.Running[0]
		r.s.OK("Release %s of Snapshot %s (made by %s) is in progress (%s): not creating another", rel.Name, rel.Snapshot, rel.Made(), rel.Phase())
		return r.follow(ctx, rel.Name)
	case r.st.Observe:
		return r.observe(ctx)
	}
	for _, f := range existing.Failed {
		r.s.Info("  Release %s of Snapshot %s (made by %s) failed: a new Release is created", f.Name, f.Snapshot, f.Made())
	}
	r.req.Attempt = len(existing.Failed) + 1
	return r.create(ctx)
}

// existing reads every Release of the commit's Snapshots through the plan.
func (r *run) existing(ctx context.Context) (konflux.CommitReleases, error) {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	snaps, err := r.kc.ListSnapshots(ctx, r.cfg.Component, r.req.SHA)
	if err != nil {
		return konflux.CommitReleases{}, fmt.Errorf("listing the Snapshots of commit %s: %w", r.req.SHA, err)
	}
	names := []string{r.cfg.Snapshot}
	for _, sn := range snaps {
		if sn.Name != r.cfg.Snapshot {
			names = append(names, sn.Name)
		}
	}
	rels, err := r.kc.ReleasesOfCommit(ctx, r.cfg.Component, r.req.SHA, names)
	if err != nil {
		return konflux.CommitReleases{}, fmt.Errorf("listing the Releases of commit %s: %w", r.req.SHA, err)
	}
	if name := r.cfg.ExistingRelease; name != "" && !has(rels, name) {
		switch rel, err := r.kc.GetRelease(ctx, name); {
		case err == nil:
			rels = append(rels, *rel)
		case !konflux.IsNotFound(err):
			return konflux.CommitReleases{}, err
		}
	}
	return konflux.Classify(rels, r.cfg.ReleasePlan), nil
}

func has(rels []konflux.Release, name string) bool {
	for _, r := range rels {
		if r.Name == name {
			return true
		}
	}
	return false
}

func (r *run) alreadyReleased(rel *konflux.Release) error {
	if err := r.s.Result(ResultReleaseName, rel.Name); err != nil {
		return err
	}
	if done, ok := rel.Done(); done && ok {
		r.s.OK("already released by %s (Snapshot %s, made by %s, %s)", rel.Name, rel.Snapshot, rel.Made(), rel.Phase())
	} else {
		r.s.OK("already released by %s: its managed pipeline succeeded, so the commit is in production (%s)", rel.Name, rel.Phase())
	}
	return r.s.Result(ResultReleaseStatus, outcome.AlreadyReleased)
}

// doubtful stops the run on a Release that did not succeed but may have reached production: it
// is neither a success nor a reason to release again.
func (r *run) doubtful(rel *konflux.Release) error {
	if err := r.s.Result(ResultReleaseName, rel.Name); err != nil {
		return err
	}
	why, _, _ := rel.Doubt()
	r.s.Fail("Release %s (Snapshot %s, made by %s) may be in production: %s", rel.Name, rel.Snapshot, rel.Made(), why)
	if err := r.s.Result(ResultReleaseStatus, outcome.Doubtful); err != nil {
		return err
	}
	return rel.DoubtError(r.cfg.Namespace)
}

// follow reports a Release this run did not create: waited on when WAIT is true.
func (r *run) follow(ctx context.Context, name string) error {
	if err := r.s.Result(ResultReleaseName, name); err != nil {
		return err
	}
	if !r.st.wait {
		r.s.Skip("not waiting for its outcome (WAIT=false): follow it with kubectl get release %s -n %s -w", name, r.cfg.Namespace)
		return r.s.Result(ResultReleaseStatus, outcome.Running)
	}
	return r.waitFor(ctx, name)
}

// observe waits for the Release integration-service creates for the Snapshot, then its outcome.
// It stops as soon as integration-service has decided not to create one (the Snapshot's
// AutoReleased condition), rather than at the timeout.
func (r *run) observe(ctx context.Context) error {
	r.s.Info("  observe mode: waiting up to %s for integration-service to create the Release of Snapshot %s", r.cfg.Timeout, r.cfg.Snapshot)
	start := time.Now()
	rel, decision, err := r.kc.WaitForRelease(ctx, r.s, r.cfg.Component, r.req.SHA, r.cfg.Snapshot, r.cfg.ReleasePlan, r.cfg.Timeout, r.cfg.ProgressInterval)
	if err != nil {
		return err
	}
	if rel == nil {
		facts := map[string]string{"snapshot": r.cfg.Snapshot, "plan": r.cfg.ReleasePlan, "within": "within " + r.cfg.Timeout.String(), "namespace": r.cfg.Namespace, "message": decision}
		if decision != "" {
			facts["within"] = "and integration-service has decided (after " + time.Since(start).Round(time.Second).String() + ")"
			r.s.Fail("integration-service decided not to release Snapshot %s through %s: %s (AutoReleased condition, after %s)", r.cfg.Snapshot, r.cfg.ReleasePlan, decision, time.Since(start).Round(time.Second))
			return failure.New(failure.AutoReleaseNotCreated, facts, "integration-service created no Release of Snapshot %s through %s: %s", r.cfg.Snapshot, r.cfg.ReleasePlan, decision)
		}
		r.s.Fail("no Release of Snapshot %s appeared within %s", r.cfg.Snapshot, r.cfg.Timeout)
		return failure.New(failure.AutoReleaseNotCreated, facts, "no Release of Snapshot %s through %s appeared within %s", r.cfg.Snapshot, r.cfg.ReleasePlan, r.cfg.Timeout)
	}
	r.s.OK("Release %s of Snapshot %s appeared (made by %s)", rel.Name, rel.Snapshot, rel.Made())
	if rel.Doubtful() {
		return r.doubtful(rel)
	}
	if rel.InProduction() {
		return r.alreadyReleased(rel)
	}
	r.cfg.Timeout = max(r.cfg.Timeout-time.Since(start), time.Second)
	return r.follow(ctx, rel.Name)
}

// create creates the Release under the name of its attempt. A Release of that name that exists
// already is this run's (a lost answer), a racing run's, or an earlier one's: one in progress is
// waited on, one in production reported, one that failed makes way for the next attempt.
func (r *run) create(ctx context.Context) error {
	for range maxAttempts {
		name := r.req.Name()
		if err := r.checkOrder(ctx); err != nil {
			return err
		}
		if err := r.s.Result(ResultReleaseName, name); err != nil {
			return err
		}
		rel, created, err := createRelease(ctx, r.kc, r.s, r.req, r.cfg.Timeout)
		if err != nil {
			return err
		}
		if created {
			r.s.OK("created Release %s (snapshot %s, release plan %s)", name, r.req.Snapshot, r.req.ReleasePlan)
			if !r.st.wait {
				r.s.Skip("not waiting for the outcome (WAIT=false): follow it with kubectl get release %s -n %s -w", name, r.cfg.Namespace)
				return r.s.Result(ResultReleaseStatus, outcome.Created)
			}
			return r.waitFor(ctx, name)
		}
		if rel.Snapshot != r.req.Snapshot || rel.ReleasePlan != r.req.ReleasePlan {
			return failure.New(failure.ReleaseExists, map[string]string{"release": rel.Name, "namespace": r.cfg.Namespace},
				"Release %s already exists with snapshot %s and release plan %s, not snapshot %s and release plan %s",
				rel.Name, rel.Snapshot, rel.ReleasePlan, r.req.Snapshot, r.req.ReleasePlan)
		}
		done, _ := rel.Done()
		switch {
		case rel.Doubtful():
			return r.doubtful(rel)
		case rel.InProduction():
			return r.alreadyReleased(rel)
		case !done:
			r.s.OK("Release %s of this commit was just created by another run (%s): waiting on it, not creating another", rel.Name, rel.Phase())
			return r.follow(ctx, rel.Name)
		}
		r.s.Info("  Release %s of this commit failed earlier: trying the next name", rel.Name)
		r.req.Attempt++
	}
	return fmt.Errorf("%d Releases of commit %s through %s failed: not creating another (kubectl get releases -n %s -l %s=%s)",
		maxAttempts, r.req.SHA, r.req.ReleasePlan, r.cfg.Namespace, konflux.LabelSHA, r.req.SHA)
}

// checkOrder judges the order of releases again right before the create: the preflight's check
// may be minutes old (a scan can wait), and a run for a newer commit may have created its
// Release since. A newer build in production or on its way, or other components that would go
// back, stop the run (unless ALLOW_OUT_OF_ORDER) before anything is created.
func (r *run) checkOrder(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	snap, err := r.kc.GetSnapshot(ctx, r.cfg.Snapshot)
	if err != nil {
		r.s.Fail("in order: reading Snapshot %s to check the order again before creating", r.cfg.Snapshot)
		return err
	}
	q := konflux.OrderQuery{Component: r.cfg.Component, SHA: r.req.SHA, Plan: r.cfg.ReleasePlan, Snapshot: snap}
	rep, err := r.kc.CheckOrder(ctx, q)
	if err != nil {
		r.s.Fail("in order: reading the Releases through %s before creating", r.cfg.ReleasePlan)
		return err
	}
	if err := rep.Judge(r.s, q, r.st.AllowOutOfOrder, 0); err != nil {
		if rerr := r.s.Result(ResultReleaseStatus, outcome.Blocked); rerr != nil {
			return rerr
		}
		return err
	}
	return nil
}

// waitFor waits on the Release and reports its outcome. A Release whose managed pipeline
// succeeded is in production even when a later phase failed: it is recorded as Succeeded (so
// that no later run releases the commit again) and the step fails with what failed after.
func (r *run) waitFor(ctx context.Context, name string) error {
	start := time.Now()
	rel, err := r.kc.WaitRelease(ctx, r.s, name, r.cfg.Timeout, r.cfg.ProgressInterval)
	elapsed := time.Since(start).Round(time.Second)
	var fe *failure.Error
	switch {
	case errors.As(err, &fe) && fe.ID == failure.ReleaseTimedOut:
		if rerr := r.s.Result(ResultReleaseStatus, outcome.TimedOut); rerr != nil {
			return rerr
		}
		return err
	case err != nil && !errors.Is(err, konflux.ErrStopped):
		_ = r.s.Result(ResultReleaseStatus, outcome.Failed)
		return err
	case err != nil:
		return err
	}
	done, ok := rel.Done()
	switch {
	case rel.Doubtful():
		return r.doubtful(rel)
	case done && ok:
		r.s.OK("Release %s succeeded after %s", name, elapsed)
		return r.s.Result(ResultReleaseStatus, outcome.Succeeded)
	case rel.ManagedSucceeded():
		r.s.Fail("Release %s: in production, but a phase after the managed pipeline failed (after %s)", name, elapsed)
		if err := r.s.Result(ResultReleaseStatus, outcome.Succeeded); err != nil {
			return err
		}
		return rel.Failure(r.cfg.Namespace)
	}
	r.s.Fail("Release %s failed after %s", name, elapsed)
	if err := r.s.Result(ResultReleaseStatus, outcome.Failed); err != nil {
		return err
	}
	return rel.Failure(r.cfg.Namespace)
}

func dryRun(ctx context.Context, s *step.Step, cfg *Config, st settings, req konflux.ReleaseRequest) error {
	if err := s.Result(ResultReleaseName, req.Name()); err != nil {
		return err
	}
	if st.Observe {
		s.Skip("dry run, observe mode: nothing created; integration-service would create the Release of Snapshot %s and this step would report it", cfg.Snapshot)
		return s.Result(ResultReleaseStatus, outcome.DryRun)
	}
	obj := req.Object(cfg.Namespace)
	// Whether the Release exists already is worth knowing, but a preview never fails for it.
	if kc, err := cfg.Client(cfg.Namespace); err != nil {
		s.Warn("could not check whether Release %s exists: %v", req.Name(), err)
	} else {
		cctx, cancel := context.WithTimeout(ctx, requestTimeout)
		existing, err := kc.GetRelease(cctx, req.Name())
		cancel()
		switch {
		case err == nil:
			s.Warn("Release %s exists already (snapshot %s, %s): a real run would report it instead of creating one", existing.Name, existing.Snapshot, existing.Phase())
		case !konflux.IsNotFound(err):
			s.Warn("could not check whether Release %s exists: %v", req.Name(), err)
		}
	}
	b, err := yaml.Marshal(obj.Object)
	if err != nil {
		return fmt.Errorf("rendering the Release: %w", err)
	}
	s.Skip("dry run: nothing created; the Release would be:")
	fmt.Fprintf(s.Out(), "---\n%s", b)
	return s.Result(ResultReleaseStatus, outcome.DryRun)
}

// createAttempts bounds the tries of the create. Repeating it is safe because the name is fixed:
// a create repeated after its answer was lost meets the Release it made (409), not a second one.
const createAttempts = 4

// newRunID is a random identifier of this run, for AnnotationRunID.
func newRunID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return hex.EncodeToString(b)
}

// createRelease creates the Release, trying again on errors that may pass (429, 5xx, a lost
// connection, an attempt that timed out), all within timeout. A Release that exists with this
// run's ID was made by this run, its answer lost (to this loop or to client-go's own retry of
// a 429/5xx with Retry-After): it is reported as created and waited for, not as released by
// someone else.
func createRelease(ctx context.Context, c *konflux.Client, s *step.Step, req konflux.ReleaseRequest, timeout time.Duration) (*konflux.Release, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	attemptTimeout := min(requestTimeout, max(timeout/3, time.Second))
	uncertain := false
	for attempt := 1; ; attempt++ {
		actx, acancel := context.WithTimeout(ctx, attemptTimeout)
		rel, created, err := c.CreateRelease(actx, req)
		acancel()
		if err == nil {
			if !created && req.RunID != "" && rel.RunID == req.RunID {
				s.Info("the answer to an earlier create was lost: Release %s exists, made by this run (run ID %s)", rel.Name, req.RunID)
				return rel, true, nil
			}
			return rel, created, nil
		}
		retry := ctx.Err() == nil && attempt < createAttempts && (konflux.Transient(err) || errors.Is(err, context.DeadlineExceeded))
		if !retry {
			if uncertain {
				err = fmt.Errorf("%w (an earlier attempt may have created it: kubectl get release %s -n %s)", err, req.Name(), c.Namespace)
			}
			return nil, false, err
		}
		uncertain = true
		s.Warn("creating Release %s: %v (attempt %d of %d; trying again)", req.Name(), err, attempt, createAttempts)
		t := time.NewTimer(500 * time.Millisecond << (attempt - 1))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, false, fmt.Errorf("creating Release %s: %w (an earlier attempt may have created it: kubectl get release %s -n %s)", req.Name(), ctx.Err(), req.Name(), c.Namespace)
		case <-t.C:
		}
	}
}
