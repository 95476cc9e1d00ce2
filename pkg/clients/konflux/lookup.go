package konflux

import (
	"context"
	"sort"
	"sync"

	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
)

// maxSnapshotsPerSelector bounds the names in one set-based label selector (the selector
// travels in the URL); more Snapshots of one commit are looked up in several calls.
const maxSnapshotsPerSelector = 50

// ReleasesOfCommit returns every Release of the commit, whoever made it and whatever its name:
// those whose snapshot label (set by the release service's webhook on every Release it admits,
// and immutable) names one of the commit's Snapshots, and those labelled with the component and
// SHA (set by this project, and copied from the Snapshot by the release service). Custom
// resources cannot be filtered on spec.snapshot by the API server and reading every Release of
// the namespace would not scale, so the labels are what the lookup relies on; spec.snapshot is
// then checked on each Release found.
func (c *Client) ReleasesOfCommit(ctx context.Context, component, sha string, snapshots []string) ([]Release, error) {
	selectors := []string{labels.Set{LabelComponent: component, LabelSHA: sha}.String()}
	names := append([]string(nil), snapshots...)
	sort.Strings(names)
	for len(names) > 0 {
		n := min(len(names), maxSnapshotsPerSelector)
		req, err := labels.NewRequirement(LabelSnapshot, selection.In, names[:n])
		if err != nil {
			return nil, err
		}
		selectors = append(selectors, labels.NewSelector().Add(*req).String())
		names = names[n:]
	}
	results := make([][]Release, len(selectors))
	errs := make([]error, len(selectors))
	var wg sync.WaitGroup
	for i, sel := range selectors {
		wg.Go(func() { results[i], errs[i] = c.ListReleases(ctx, sel) })
	}
	wg.Wait()
	seen := map[string]bool{}
	var out []Release
	for i := range selectors {
		if errs[i] != nil {
			return nil, errs[i]
		}
		for _, r := range results[i] {
			if !seen[r.Name] {
				seen[r.Name] = true
				out = append(out, r)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Created.Equal(out[j].Created) {
			return out[i].Created.After(out[j].Created)
		}
		return out[i].Name > out[j].Name
	})
	return out, nil
}

// ThroughPlan reports whether the Release goes through plan (spec or label).
func (r *Release) ThroughPlan(plan string) bool {
	return r.ReleasePlan == plan || (r.ReleasePlan == "" && r.Labels[LabelReleasePlan] == plan)
}

// CommitReleases sorts the Releases of one commit through one plan by what they mean for a new
// release, newest first in each list.
type CommitReleases struct {
	// Released is the newest Release that put the commit in production (succeeded, or its
	// managed pipeline succeeded and a later phase failed); nil when none did.
	Released *Release
	// Running are the Releases still in progress: a new one would release the commit twice.
	Running []*Release
	// Doubtful are the Releases that did not succeed but may have reached production (Doubt):
	// they allow no new one until a person has checked.
	Doubtful []*Release
	// Failed are the Releases that failed before production: they allow a new one.
	Failed []*Release
}

// Classify sorts rels (as ReleasesOfCommit returns them, newest first) through plan.
func Classify(rels []Release, plan string) CommitReleases {
	var out CommitReleases
	for i := range rels {
		r := &rels[i]
		if !r.ThroughPlan(plan) {
			continue
		}
		done, _ := r.Done()
		switch {
		case r.Doubtful():
			out.Doubtful = append(out.Doubtful, r)
		case r.InProduction():
			if out.Released == nil {
				out.Released = r
			}
		case !done:
			out.Running = append(out.Running, r)
		default:
			out.Failed = append(out.Failed, r)
		}
	}
	return out
}

// Made says who made the Release, as far as it shows: integration-service (automated),
// this project (its run annotation), or the author the release service recorded.
func (r *Release) Made() string {
	switch {
	case r.Automated || r.Labels[LabelAutomated] == "true":
		return "integration-service (auto-release)"
	case r.RunID != "" || r.Annotations[AnnotationStartedBy] != "":
		return "release-to-prod"
	case r.Author != "":
		return r.Author
	case r.Labels["release.appstudio.openshift.io/author"] != "":
		return r.Labels["release.appstudio.openshift.io/author"]
	}
	return "someone else"
}
