package history

import (
	"context"
	"strings"

	"k8s.io/apimachinery/pkg/labels"

	"github.com/release-to-prod/release-to-prod/pkg/clients/konflux"
	"github.com/release-to-prod/release-to-prod/pkg/step/outcome"
)

// RunFacts is what a pipeline's finally task knows of the run without reading another task's
// results (Tekton skips a finally task whose params name a result that is missing, which is
// the case whenever create-release was skipped or failed early).
type RunFacts struct {
	DryRun         bool
	PipelineStatus string // $(tasks.status): Succeeded, Failed, Completed, None
	CreateStatus   string // $(tasks.create-release.status): Succeeded, Failed, None (skipped)
	// Release and Snapshot name the Release and Snapshot when the caller knows them; the
	// Release of the run is then read by name (or by the Snapshot's label) rather than guessed
	// as the newest Release labelled with the commit.
	Release, Snapshot string
}

// RunOutcome is the run's outcome as the history and the notification tell it.
type RunOutcome struct {
	Status   outcome.Status
	Release  string // the Release created or found; empty when none
	Snapshot string
}

// ResolveOutcome decides the outcome of a run from the facts and, when a Release is involved,
// the newest Release of the component at sha in the namespace (or, once Konflux has
// garbage-collected it, the history entry that recorded it).
func ResolveOutcome(ctx context.Context, c *konflux.Client, f RunFacts, component, sha, historyConfigMap string) (RunOutcome, error) {
	if f.DryRun {
		return RunOutcome{Status: outcome.DryRun}, nil
	}
	create := strings.ToLower(strings.TrimSpace(f.CreateStatus))
	pipelineFailed := strings.EqualFold(strings.TrimSpace(f.PipelineStatus), "Failed")
	if (create == "" || create == "none") && pipelineFailed {
		return stoppedBeforeCreate(ctx, c, f, component, sha)
	}
	rel, err := runRelease(ctx, c, f, component, sha)
	if err != nil {
		return RunOutcome{}, err
	}
	out := RunOutcome{}
	if rel != nil {
		out.Release, out.Snapshot = rel.Name, rel.Snapshot
	}
	switch create {
	case "", "none": // skipped by its when: the commit was released already
		out.Status = outcome.AlreadyReleased
		if rel == nil && historyConfigMap != "" {
			entries, err := Read(ctx, c, historyConfigMap)
			if err != nil {
				return RunOutcome{}, err
			}
			if e, ok := Released(entries, component, sha); ok {
				out.Release, out.Snapshot = e.Release, e.Snapshot
			}
		}
		return out, nil
	case "succeeded":
		out.Status = succeededStatus(rel)
		return out, nil
	default: // failed: the Release failed, or is still running past the timeout
		out.Status = failedStatus(rel)
		return out, nil
	}
}

// stoppedBeforeCreate is the outcome of a run whose pipeline failed before create-release.
// The preflight also stops on a Release of the commit that may be in production: the history
// must say so, not "blocked", so that no later run releases it again unchecked.
func stoppedBeforeCreate(ctx context.Context, c *konflux.Client, f RunFacts, component, sha string) (RunOutcome, error) {
	rels, err := (&RunFacts{Snapshot: f.Snapshot}).releases(ctx, c, component, sha)
	if err != nil {
		return RunOutcome{}, err
	}
	for i := range rels {
		if rels[i].Doubtful() {
			return RunOutcome{Status: outcome.Doubtful, Release: rels[i].Name, Snapshot: rels[i].Snapshot}, nil
		}
	}
	return RunOutcome{Status: outcome.Blocked}, nil
}

// succeededStatus is the outcome when create-release succeeded, by its Release (nil: none found).
func succeededStatus(rel *konflux.Release) outcome.Status {
	status := outcome.Succeeded
	if rel != nil && rel.Doubtful() {
		status = outcome.Doubtful
	} else if rel != nil {
		if done, ok := rel.Done(); !done {
			status = outcome.Running // create-release ran with wait=false
		} else if !ok {
			status = outcome.Failed
		}
	}
	return status
}

// failedStatus is the outcome when create-release failed, by its Release (nil: none found).
func failedStatus(rel *konflux.Release) outcome.Status {
	status := outcome.Failed
	if rel == nil {
		// create-release stopped before any Release existed (its order check, a refused
		// create): nothing was released, nothing failed in Konflux.
		status = outcome.Blocked
	}
	if rel != nil {
		if done, _ := rel.Done(); !done && !rel.ManagedSucceeded() {
			status = outcome.TimedOut
		}
		if rel.InProduction() {
			// The managed pipeline succeeded and a later phase failed: the commit is in
			// production, and recording it so keeps any later run from releasing it again.
			status = outcome.Succeeded
		}
		if rel.Doubtful() {
			status = outcome.Doubtful
		}
	}
	return status
}

// runRelease reads the run's Release: the one named, else the newest Release of the Snapshot or
// of the commit.
func runRelease(ctx context.Context, c *konflux.Client, f RunFacts, component, sha string) (*konflux.Release, error) {
	if f.Release != "" {
		rel, err := c.GetRelease(ctx, f.Release)
		if err == nil || !konflux.IsNotFound(err) {
			return rel, err
		}
	}
	rels, err := f.releases(ctx, c, component, sha)
	if err != nil {
		return nil, err
	}
	var newest *konflux.Release
	for i := range rels {
		if newest == nil || rels[i].Created.After(newest.Created) {
			newest = &rels[i]
		}
	}
	return newest, nil
}

// releases lists the Releases of the Snapshot (by its label) and of the commit (by its labels).
func (f *RunFacts) releases(ctx context.Context, c *konflux.Client, component, sha string) ([]konflux.Release, error) {
	if f.Snapshot != "" {
		return c.ReleasesOfCommit(ctx, component, sha, []string{f.Snapshot})
	}
	return c.ListReleases(ctx, labels.Set{konflux.LabelComponent: component, konflux.LabelSHA: sha}.String())
}
