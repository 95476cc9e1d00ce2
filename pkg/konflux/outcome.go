package konflux

import (
	"context"
	"strings"

	"k8s.io/apimachinery/pkg/labels"
)

// Outcome values recorded in the history besides the create-release statuses.
const (
	// OutcomeBlocked: the gates stopped the run before a Release was created.
	OutcomeBlocked = "Blocked"
	// OutcomeRunning: the Release was created and had not finished when the run ended.
	OutcomeRunning = "Running"
)

// RunFacts is what a pipeline's finally task knows of the run without reading another task's
// results (Tekton skips a finally task whose params name a result that is missing, which is
// the case whenever create-release was skipped or failed early).
type RunFacts struct {
	DryRun         bool
	PipelineStatus string // $(tasks.status): Succeeded, Failed, Completed, None
	CreateStatus   string // $(tasks.create-release.status): Succeeded, Failed, None (skipped)
}

// RunOutcome is the run's outcome as the history and the notification tell it.
type RunOutcome struct {
	Status   string // Succeeded, Failed, TimedOut, DryRun, AlreadyReleased, Blocked, Running
	Release  string // the Release created or found; empty when none
	Snapshot string
}

// ResolveOutcome decides the outcome of a run from the facts and, when a Release is involved,
// the newest Release of the component at sha in the namespace (or, once Konflux has
// garbage-collected it, the history entry that recorded it).
func (c *Client) ResolveOutcome(ctx context.Context, f RunFacts, component, sha, historyConfigMap string) (RunOutcome, error) {
	if f.DryRun {
		return RunOutcome{Status: ReleaseDryRun}, nil
	}
	create := strings.ToLower(strings.TrimSpace(f.CreateStatus))
	pipelineFailed := strings.EqualFold(strings.TrimSpace(f.PipelineStatus), "Failed")
	if (create == "" || create == "none") && pipelineFailed {
		return RunOutcome{Status: OutcomeBlocked}, nil
	}
	rel, err := c.newestRelease(ctx, component, sha)
	if err != nil {
		return RunOutcome{}, err
	}
	out := RunOutcome{}
	if rel != nil {
		out.Release, out.Snapshot = rel.Name, rel.Snapshot
	}
	switch create {
	case "", "none": // skipped by its when: the commit was released already
		out.Status = ReleaseAlreadyReleased
		if rel == nil && historyConfigMap != "" {
			entries, err := c.ReadHistory(ctx, historyConfigMap)
			if err != nil {
				return RunOutcome{}, err
			}
			if e, ok := Released(entries, component, sha); ok {
				out.Release, out.Snapshot = e.Release, e.Snapshot
			}
		}
		return out, nil
	case "succeeded":
		out.Status = ReleaseSucceeded
		if rel != nil {
			if done, ok := rel.Done(); !done {
				out.Status = OutcomeRunning // create-release ran with wait=false
			} else if !ok {
				out.Status = ReleaseFailed
			}
		}
		return out, nil
	default: // failed: the Release failed, or is still running past the timeout
		out.Status = ReleaseFailed
		if rel != nil {
			if done, _ := rel.Done(); !done {
				out.Status = ReleaseTimedOut
			}
		}
		return out, nil
	}
}

func (c *Client) newestRelease(ctx context.Context, component, sha string) (*Release, error) {
	rels, err := c.ListReleases(ctx, labels.Set{LabelComponent: component, LabelSHA: sha}.String())
	if err != nil {
		return nil, err
	}
	var newest *Release
	for i := range rels {
		if newest == nil || rels[i].Created.After(newest.Created) {
			newest = &rels[i]
		}
	}
	return newest, nil
}
