package konflux

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/release-to-prod/release-to-prod/pkg/step"
	"github.com/release-to-prod/release-to-prod/pkg/step/failure"
)

// requestTimeout bounds one API call made while waiting; the wait as a whole has its own bound.
const requestTimeout = 30 * time.Second

// ticker paces a wait: a poll every poll, a progress line every progress, until deadline.
type ticker struct {
	start, deadline, nextProgress time.Time
	poll, progress                time.Duration
}

func newTicker(timeout, progress time.Duration) *ticker {
	now := time.Now()
	if progress <= 0 {
		progress = 30 * time.Second
	}
	return &ticker{start: now, deadline: now.Add(timeout), nextProgress: now.Add(progress),
		poll: min(2*time.Second, progress), progress: progress}
}

func (t *ticker) elapsed() time.Duration { return time.Since(t.start).Round(time.Second) }

func (t *ticker) expired() bool { return !time.Now().Before(t.deadline) }

// progressDue reports whether a progress line is due, and schedules the next.
func (t *ticker) progressDue() bool {
	now := time.Now()
	if now.Before(t.nextProgress) {
		return false
	}
	for !t.nextProgress.After(now) {
		t.nextProgress = t.nextProgress.Add(t.progress)
	}
	return true
}

// sleep waits for the next poll; false when ctx ended.
func (t *ticker) sleep(ctx context.Context) bool {
	d := max(min(t.poll, time.Until(t.deadline), time.Until(t.nextProgress)), 10*time.Millisecond)
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-timer.C:
		return true
	}
}

// ErrStopped is returned (wrapped) when the step was stopped while it waited.
var ErrStopped = errors.New("stopped while waiting")

// WaitRelease polls the Release (the Role grants get, not watch) until the release service sets
// its outcome or timeout passes, printing the phase and elapsed time every progress. It returns
// the Release as last read: finished, or with a ReleaseTimedOut failure. A Release deleted while
// waited on, and a stop (SIGTERM), are errors that say the Release's state.
func (c *Client) WaitRelease(ctx context.Context, s *step.Step, name string, timeout, progress time.Duration) (*Release, error) {
	t := newTicker(timeout, progress)
	phase, warned := "created", false
	var last *Release
	for {
		cctx, cancel := context.WithTimeout(ctx, requestTimeout)
		rel, err := c.GetRelease(cctx, name)
		cancel()
		switch {
		case err == nil:
			last, phase = rel, rel.Phase()
			if done, _ := rel.Done(); done {
				return rel, nil
			}
		case IsNotFound(err):
			return last, fmt.Errorf("Release %s disappeared while waiting for it (deleted by someone?): %w", name, err)
		case ctx.Err() != nil:
			return last, c.stoppedWaiting(ctx, name)
		default:
			// A blip of the API server must not abandon a running release: keep polling.
			if !warned {
				s.Warn("reading Release %s: %v (retrying until the timeout)", name, err)
				warned = true
			}
		}
		if t.expired() {
			return last, failure.New(failure.ReleaseTimedOut, map[string]string{"release": name, "timeout": timeout.String(), "phase": phase, "namespace": c.Namespace},
				"Release %s not finished after %s (phase: %s)", name, timeout, phase)
		}
		if t.progressDue() {
			s.Info("  Release %s: %s (elapsed %s)", name, phase, t.elapsed())
		}
		if !t.sleep(ctx) {
			return last, c.stoppedWaiting(ctx, name)
		}
	}
}

// stoppedWaiting is the error of a step stopped (SIGTERM: the PipelineRun was cancelled or timed
// out) while it waited: the Release is not stopped with it.
func (c *Client) stoppedWaiting(ctx context.Context, name string) error {
	return fmt.Errorf("%w (%w): Release %s was created and is still running in Konflux; follow it with kubectl get release %s -n %s -w",
		ErrStopped, context.Cause(ctx), name, name, c.Namespace)
}

// WaitForRelease waits until a Release of snapshot through plan exists (made by someone else:
// integration-service's auto-release), and returns the newest. The Releases are found by the
// snapshot label the release service's webhook sets on each. It stops as soon as
// integration-service has decided about the Snapshot (its AutoReleased condition: "The Snapshot
// was auto-released", "Released in newer Snapshot", "Skipping auto-release …") and no Release
// through plan exists: it then returns nil and the condition's message (integration-service
// creates its Releases before it sets the condition, so none will come). At the timeout it
// returns nil and "".
func (c *Client) WaitForRelease(ctx context.Context, s *step.Step, component, sha, snapshot, plan string, timeout, progress time.Duration) (*Release, string, error) {
	t := newTicker(timeout, progress)
	warned := false
	stopped := func() error {
		return fmt.Errorf("%w (%w) for a Release of Snapshot %s", ErrStopped, context.Cause(ctx), snapshot)
	}
	for {
		// The Snapshot first: a Release created between the two reads is then still seen.
		decided, decision, serr := c.autoReleased(ctx, snapshot)
		cctx, cancel := context.WithTimeout(ctx, requestTimeout)
		rels, err := c.ReleasesOfCommit(cctx, component, sha, []string{snapshot})
		cancel()
		if err = errors.Join(err, serr); err == nil {
			for i := range rels {
				if rels[i].ThroughPlan(plan) {
					return &rels[i], "", nil
				}
			}
			if decided {
				return nil, decision, nil
			}
		} else if ctx.Err() != nil {
			return nil, "", stopped()
		} else if !warned {
			s.Warn("reading Snapshot %s and its Releases: %v (retrying until the timeout)", snapshot, err)
			warned = true
		}
		if t.expired() {
			return nil, "", nil
		}
		if t.progressDue() {
			s.Info("  no Release of Snapshot %s through %s yet, integration-service has not decided (elapsed %s)", snapshot, plan, t.elapsed())
		}
		if !t.sleep(ctx) {
			return nil, "", stopped()
		}
	}
}

// autoReleased reads the Snapshot's AutoReleased condition: decided when it is True.
func (c *Client) autoReleased(ctx context.Context, snapshot string) (decided bool, message string, err error) {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	sn, err := c.GetSnapshot(ctx, snapshot)
	if err != nil {
		return false, "", err
	}
	cond, ok := sn.Condition(ConditionAutoReleased)
	if !ok || cond.Status != "True" {
		return false, "", nil
	}
	if cond.Message == "" {
		cond.Message = "AutoReleased=True (" + cond.Reason + ") without a message"
	}
	return true, cond.Message, nil
}

// PipelineRunsResource is Tekton's PipelineRun, read to see how the commit's build went.
var PipelineRunsResource = schema.GroupVersionResource{Group: "tekton.dev", Version: "v1", Resource: "pipelineruns"}

// Labels Pipelines-as-Code and Konflux's build service put on a build PipelineRun.
const (
	labelPaCSHA        = "pipelinesascode.tekton.dev/sha"
	labelPaCEventType  = "pipelinesascode.tekton.dev/event-type"
	labelPipelinesType = "pipelines.appstudio.openshift.io/type"
)

// BuildWait says what WaitForBuild waits for.
type BuildWait struct {
	Component, SHA string
	Timeout        time.Duration
	Progress       time.Duration
	// ImageExists reports whether the <sha> tag exists in the staging repository.
	ImageExists func(ctx context.Context) (bool, error)
}

// buildRun is the part of a build PipelineRun the wait reads.
type buildRun struct {
	name    string
	created time.Time
	status  string // Succeeded condition: True, False, Unknown or ""
	reason  string
	message string
}

// WaitForBuild waits, for a merge-triggered run that starts together with the build, until the
// commit's image exists in the registry and its push Snapshot exists and has finished its
// integration tests; it then returns nil and the gates run. It stops early, with the cause and
// the fix, when the build PipelineRun failed or the tests failed (or the Snapshot was marked
// Invalid or superseded); a commit that never gets a build — its files are outside the paths the
// component's on-push PipelineRun watches — stops at the timeout with advice saying so.
func (c *Client) WaitForBuild(ctx context.Context, s *step.Step, w BuildWait) error {
	t := newTicker(w.Timeout, w.Progress)
	buildsReadable := true
	state := "nothing yet"
	for {
		imageOK, err := w.ImageExists(ctx)
		if err != nil {
			return err
		}
		snaps, err := c.ListSnapshots(ctx, w.Component, w.SHA)
		if err != nil {
			return err
		}
		_, _, choiceErr := FindSnapshot(snaps, w.Component, w.SHA, c.Namespace, SnapshotChoice{})
		var fe *failure.Error
		waiting := errors.As(choiceErr, &fe) && (fe.ID == failure.SnapshotMissing || fe.ID == failure.SnapshotTestsRunning)
		switch {
		case imageOK && choiceErr == nil:
			s.OK("build of commit %s done: image pushed, push Snapshot tested (waited %s)", short(w.SHA), t.elapsed())
			return nil
		case choiceErr != nil && !waiting:
			if fe != nil && fe.ID == failure.SnapshotNewerFailed {
				// Whether an older passing Snapshot may go is the preflight's decision.
				s.OK("build of commit %s done: tests finished (waited %s)", short(w.SHA), t.elapsed())
				return nil
			}
			s.Fail("build of commit %s: %v", short(w.SHA), choiceErr)
			return choiceErr
		}
		var build *buildRun
		if buildsReadable {
			build, err = c.latestBuild(ctx, w.Component, w.SHA)
			if err != nil && ctx.Err() == nil {
				// Not granted (the Role's pipelineruns rule removed) or not served: the wait
				// still ends on the image and the Snapshot, only a failed build is not seen early.
				s.Warn("cannot read the build PipelineRuns (%v): waiting for the image and the Snapshot only", err)
				buildsReadable = false
			}
		}
		if build != nil && build.status == "False" && !imageOK {
			facts := map[string]string{"pipeline_run": build.name, "component": w.Component, "sha": w.SHA, "namespace": c.Namespace,
				"message": clip(build.message, 300)}
			s.Fail("build of commit %s: PipelineRun %s failed (%s)", short(w.SHA), build.name, build.reason)
			return failure.New(failure.BuildFailed, facts, "the build PipelineRun %s of commit %s failed: %s", build.name, w.SHA, clip(build.message, 300))
		}
		state = describeBuild(imageOK, build, snaps, choiceErr)
		if t.expired() {
			return failure.New(failure.BuildWaitTimedOut, map[string]string{"component": w.Component, "sha": w.SHA, "timeout": w.Timeout.String(), "state": state, "namespace": c.Namespace},
				"commit %s of %s: build not done after %s (%s)", w.SHA, w.Component, w.Timeout, state)
		}
		if t.progressDue() {
			s.Info("  waiting for the build of commit %s: %s (elapsed %s)", short(w.SHA), state, t.elapsed())
		}
		if !t.sleep(ctx) {
			return fmt.Errorf("%w (%w) for the build of commit %s (%s)", ErrStopped, context.Cause(ctx), w.SHA, state)
		}
	}
}

func describeBuild(imageOK bool, build *buildRun, snaps []Snapshot, choiceErr error) string {
	var parts []string
	switch {
	case build == nil:
		parts = append(parts, "no build PipelineRun seen")
	case build.status == "True":
		parts = append(parts, "build PipelineRun "+build.name+" succeeded")
	default:
		parts = append(parts, "build PipelineRun "+build.name+" running")
	}
	if imageOK {
		parts = append(parts, "image pushed")
	} else {
		parts = append(parts, "image not pushed yet")
	}
	var fe *failure.Error
	switch {
	case len(snaps) == 0:
		parts = append(parts, "no Snapshot yet")
	case errors.As(choiceErr, &fe) && fe.ID == failure.SnapshotTestsRunning:
		parts = append(parts, "Snapshot "+fe.Facts["snapshot"]+" testing")
	case errors.As(choiceErr, &fe) && fe.ID == failure.SnapshotMissing:
		parts = append(parts, "no push Snapshot yet")
	default:
		parts = append(parts, "Snapshot tested")
	}
	return strings.Join(parts, ", ")
}

// latestBuild returns the newest push build PipelineRun of the commit, or nil.
func (c *Client) latestBuild(ctx context.Context, component, sha string) (*buildRun, error) {
	sel := labels.Set{labelPaCSHA: sha, LabelComponent: component, labelPipelinesType: "build"}.String()
	var newest *buildRun
	err := c.list(ctx, PipelineRunsResource, "PipelineRun", sel, func(u *unstructured.Unstructured) {
		if ev := u.GetLabels()[labelPaCEventType]; ev != "" && ev != "push" && ev != "Push" {
			return
		}
		b := &buildRun{name: u.GetName(), created: u.GetCreationTimestamp().Time}
		for _, cd := range conditions(u) {
			if cd.Type == "Succeeded" {
				b.status, b.reason, b.message = cd.Status, cd.Reason, cd.Message
			}
		}
		if newest == nil || b.created.After(newest.created) {
			newest = b
		}
	})
	return newest, err
}

func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}
