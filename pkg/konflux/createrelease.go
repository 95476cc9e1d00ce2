package konflux

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/release-to-prod/release-to-prod/pkg/commit"
	"github.com/release-to-prod/release-to-prod/pkg/failure"
	"github.com/release-to-prod/release-to-prod/pkg/step"
)

// CreateReleaseConfig is the create-release step's configuration.
type CreateReleaseConfig struct {
	step.Common
	CommitSHA        string        `check:"sha" env:"COMMIT_SHA, required" desc:"full 40-character SHA of the commit to release (lowercase hex; short SHAs never exist as image tags)"`
	Component        string        `check:"name" env:"COMPONENT, default=automation-analytics-backend-main" desc:"Konflux Component to release"`
	Namespace        string        `check:"name" env:"NAMESPACE, default=aap-aa-tenant" desc:"Konflux tenant namespace"`
	Application      string        `check:"name" env:"APPLICATION, default=aap-aa-main" desc:"Konflux Application of the component"`
	Snapshot         string        `env:"SNAPSHOT, required" desc:"Snapshot to release (the preflight's SNAPSHOT result)"`
	ReleasePlan      string        `env:"RELEASE_PLAN, required" desc:"ReleasePlan to release through; empty: the only ReleasePlan of the application (the preflight chooses it)"`
	Kubeconfig       string        `param:"-" env:"KUBECONFIG" desc:"kubeconfig file; empty: in-cluster ServiceAccount"`
	DryRun           string        `check:"bool" env:"DRY_RUN, default=false" desc:"true runs every gate and prints the Release it would create, without creating it"`
	Automated        string        `check:"bool" env:"AUTOMATED, default=false" desc:"true when started by automation (label release.appstudio.openshift.io/automated)"`
	Wait             string        `check:"bool" env:"WAIT, default=true" desc:"true: wait for the Release to finish; false: return once created"`
	Timeout          time.Duration `param:"release_timeout" env:"TIMEOUT, default=1h" desc:"how long to wait for the Release to finish"`
	ProgressInterval time.Duration `env:"PROGRESS_INTERVAL, default=30s" desc:"how often to print the Release's progress while waiting"`
}

// Values of the RELEASE_STATUS result.
const (
	ReleaseSucceeded       = "Succeeded"
	ReleaseFailed          = "Failed"
	ReleaseTimedOut        = "TimedOut"
	ReleaseDryRun          = "DryRun"
	ReleaseAlreadyReleased = "AlreadyReleased"
	ReleaseCreated         = "Created" // WAIT=false: created, outcome not awaited
)

// requestTimeout bounds one API call; the wait as a whole is bounded by TIMEOUT.
const requestTimeout = 30 * time.Second

func boolSetting(name, v string, def bool) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "":
		return def, nil
	case "true", "yes", "1":
		return true, nil
	case "false", "no", "0":
		return false, nil
	}
	return false, failure.New(failure.InvalidInput, nil, "%s=%q: use true or false", name, v)
}

// RunCreateRelease is the create-release step: create the Release under its deterministic name
// (or find the one a racing run created), then wait for its outcome.
func RunCreateRelease(ctx context.Context, s *step.Step, cfg *CreateReleaseConfig) error {
	sha, err := commit.ParseSHA(cfg.CommitSHA)
	if err != nil {
		return failure.Wrap(failure.InvalidInput, nil, err)
	}
	if err := required(map[string]string{"COMPONENT": cfg.Component, "NAMESPACE": cfg.Namespace, "APPLICATION": cfg.Application,
		"SNAPSHOT": cfg.Snapshot, "RELEASE_PLAN": cfg.ReleasePlan}); err != nil {
		return err
	}
	dry, err := boolSetting("DRY_RUN", cfg.DryRun, false)
	if err != nil {
		return err
	}
	automated, err := boolSetting("AUTOMATED", cfg.Automated, false)
	if err != nil {
		return err
	}
	wait, err := boolSetting("WAIT", cfg.Wait, true)
	if err != nil {
		return err
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = time.Hour
	}
	if cfg.ProgressInterval <= 0 {
		cfg.ProgressInterval = 30 * time.Second
	}
	req := ReleaseRequest{Component: cfg.Component, Application: cfg.Application, SHA: sha,
		Snapshot: cfg.Snapshot, ReleasePlan: cfg.ReleasePlan, Automated: automated, RunID: newRunID()}
	name := req.Name()
	if err := s.Result("RELEASE_NAME", name); err != nil {
		return err
	}
	if dry {
		return dryRun(ctx, s, cfg, req)
	}

	kc, err := NewClient(cfg.Kubeconfig, cfg.Namespace)
	if err != nil {
		return err
	}
	rel, created, err := kc.createRelease(ctx, s, req, cfg.Timeout)
	if err != nil {
		return err
	}
	if !created {
		return alreadyExists(s, rel, req, cfg)
	}
	s.OK("created Release %s (snapshot %s, release plan %s)", name, req.Snapshot, req.ReleasePlan)
	if !wait {
		s.Skip("not waiting for the outcome (WAIT=false): follow it with kubectl get release %s -n %s -w", name, cfg.Namespace)
		return s.Result("RELEASE_STATUS", ReleaseCreated)
	}
	return kc.waitRelease(ctx, s, cfg, name)
}

func dryRun(ctx context.Context, s *step.Step, cfg *CreateReleaseConfig, req ReleaseRequest) error {
	obj := req.Object(cfg.Namespace)
	// Whether the Release exists already is worth knowing, but a preview never fails for it.
	if kc, err := NewClient(cfg.Kubeconfig, cfg.Namespace); err != nil {
		s.Warn("could not check whether Release %s exists: %v", req.Name(), err)
	} else {
		cctx, cancel := context.WithTimeout(ctx, requestTimeout)
		existing, err := kc.GetRelease(cctx, req.Name())
		cancel()
		switch {
		case err == nil:
			s.Warn("Release %s exists already (snapshot %s, %s): a real run would report it instead of creating one", existing.Name, existing.Snapshot, existing.Phase())
		case !IsNotFound(err):
			s.Warn("could not check whether Release %s exists: %v", req.Name(), err)
		}
	}
	b, err := yaml.Marshal(obj.Object)
	if err != nil {
		return fmt.Errorf("rendering the Release: %w", err)
	}
	s.Skip("dry run: nothing created; the Release would be:")
	fmt.Fprintf(s.Out(), "---\n%s", b)
	return s.Result("RELEASE_STATUS", ReleaseDryRun)
}

// alreadyExists handles a Release of the same name made earlier or by a racing run: the same
// spec means this commit is (being) released by it; another spec is an error that names it. A
// same-spec Release that failed is reported as failed, since calling it released would hide
// the failure.
func alreadyExists(s *step.Step, rel *Release, req ReleaseRequest, cfg *CreateReleaseConfig) error {
	if rel.Snapshot != req.Snapshot || rel.ReleasePlan != req.ReleasePlan {
		return failure.New(failure.ReleaseExists, map[string]string{"release": rel.Name, "namespace": cfg.Namespace},
			"Release %s already exists with snapshot %s and release plan %s, not snapshot %s and release plan %s",
			rel.Name, rel.Snapshot, rel.ReleasePlan, req.Snapshot, req.ReleasePlan)
	}
	if done, ok := rel.Done(); done && !ok {
		s.Fail("Release %s of this commit exists and failed", rel.Name)
		if err := s.Result("RELEASE_STATUS", ReleaseFailed); err != nil {
			return err
		}
		return rel.Failure(cfg.Namespace)
	}
	s.OK("already released by %s (%s)", rel.Name, rel.Phase())
	return s.Result("RELEASE_STATUS", ReleaseAlreadyReleased)
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
func (c *Client) createRelease(ctx context.Context, s *step.Step, req ReleaseRequest, timeout time.Duration) (*Release, bool, error) {
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
		retry := ctx.Err() == nil && attempt < createAttempts && (transient(err) || errors.Is(err, context.DeadlineExceeded))
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

// stoppedWaiting is the error of a step stopped (SIGTERM: the PipelineRun was cancelled or timed
// out) while it waited: the Release is not stopped with it.
func stoppedWaiting(ctx context.Context, name, namespace string) error {
	return fmt.Errorf("stopped while waiting (%w): Release %s was created and is still running in Konflux; follow it with kubectl get release %s -n %s -w", context.Cause(ctx), name, name, namespace)
}

// waitRelease polls the Release (the Role grants get, not watch) until the release service
// sets its outcome or the timeout passes, printing the phase and elapsed time at a steady pace.
func (c *Client) waitRelease(ctx context.Context, s *step.Step, cfg *CreateReleaseConfig, name string) error {
	start := time.Now()
	deadline := start.Add(cfg.Timeout)
	poll := min(2*time.Second, cfg.ProgressInterval)
	nextProgress := start.Add(cfg.ProgressInterval)
	phase, warned := "created", false
	for {
		cctx, cancel := context.WithTimeout(ctx, requestTimeout)
		rel, err := c.GetRelease(cctx, name)
		cancel()
		switch {
		case err == nil:
			phase = rel.Phase()
			if done, ok := rel.Done(); done {
				elapsed := time.Since(start).Round(time.Second)
				if ok {
					s.OK("Release %s succeeded after %s", name, elapsed)
					return s.Result("RELEASE_STATUS", ReleaseSucceeded)
				}
				s.Fail("Release %s failed after %s", name, elapsed)
				if err := s.Result("RELEASE_STATUS", ReleaseFailed); err != nil {
					return err
				}
				return rel.Failure(cfg.Namespace)
			}
		case IsNotFound(err):
			_ = s.Result("RELEASE_STATUS", ReleaseFailed)
			return fmt.Errorf("Release %s disappeared while waiting for it (deleted by someone?): %w", name, err)
		case ctx.Err() != nil:
			return stoppedWaiting(ctx, name, cfg.Namespace)
		default:
			// A blip of the API server must not abandon a running release: keep polling.
			if !warned {
				s.Warn("reading Release %s: %v (retrying until the timeout)", name, err)
				warned = true
			}
		}
		now := time.Now()
		if !now.Before(deadline) {
			if err := s.Result("RELEASE_STATUS", ReleaseTimedOut); err != nil {
				return err
			}
			return failure.New(failure.ReleaseTimedOut, map[string]string{"release": name, "timeout": cfg.Timeout.String(), "phase": phase, "namespace": cfg.Namespace},
				"Release %s not finished after %s (phase: %s)", name, cfg.Timeout, phase)
		}
		if !now.Before(nextProgress) {
			s.Info("  Release %s: %s (elapsed %s)", name, phase, now.Sub(start).Round(time.Second))
			for !nextProgress.After(now) {
				nextProgress = nextProgress.Add(cfg.ProgressInterval)
			}
		}
		sleep := min(poll, time.Until(deadline), time.Until(nextProgress))
		select {
		case <-ctx.Done():
			return stoppedWaiting(ctx, name, cfg.Namespace)
		case <-time.After(max(sleep, 10*time.Millisecond)):
		}
	}
}
