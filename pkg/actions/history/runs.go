package history

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/release-to-prod/release-to-prod/pkg/clients/konflux"
	"github.com/release-to-prod/release-to-prod/pkg/step/failure"
	"github.com/release-to-prod/release-to-prod/pkg/step/outcome"
)

// The history lives in up to three stores. The ConfigMap is written by the report where its
// ServiceAccount may write ConfigMaps (self-hosted Konflux); where it may not (hosted Konflux:
// no role below the tenant admin writes ConfigMaps), the record is what the run leaves anyway:
// the Release it created carries the run from its creation (konflux.LabelPipelineRun,
// konflux.AnnotationGates), and the PipelineRun's own results say how every run ended
// (RELEASE_STATUS, RELEASE_NAME, GATE_SUMMARY, fed from the report; the cause is only in the
// ConfigMap).
const (
	FromConfigMap   = "configmap"
	FromRelease     = "release"
	FromPipelineRun = "pipelinerun"
)

// Run is one run of the release history, from whichever stores hold it.
type Run struct {
	PipelineRun string
	Commit      string
	Component   string
	Outcome     string
	// When is when the run finished (else when it started, or its Release was created).
	When    time.Time
	Release string
	Gates   string
	Cause   string
	// Sources are the stores that hold the run (FromConfigMap, FromRelease, FromPipelineRun).
	Sources []string
}

// RunsFromEntries are the history entries of component as runs.
func RunsFromEntries(entries []Entry, component string) []Run {
	var out []Run
	for _, e := range entries {
		if e.Component != component {
			continue
		}
		when, err := time.Parse(time.RFC3339, firstOf(e.Finished, e.Started))
		if err != nil {
			when = time.Time{}
		}
		out = append(out, Run{PipelineRun: e.PipelineRun, Commit: e.SHA, Component: e.Component, Outcome: e.Status,
			When: when, Release: e.Release, Cause: e.Cause, Sources: []string{FromConfigMap}})
	}
	return out
}

// RunsFromReleases are the runs recorded on the Releases of component the project created: the
// PipelineRun that created each (empty on Releases made before the record existed), its gates,
// and the Release's own state as the outcome.
func RunsFromReleases(rels []konflux.Release, component string) []Run {
	var out []Run
	for _, r := range rels {
		if r.Labels[konflux.LabelComponent] != component {
			continue
		}
		when := r.Completed
		if when.IsZero() {
			when = r.Created
		}
		out = append(out, Run{PipelineRun: firstOf(r.Annotations[konflux.AnnotationPipelineRun], r.Labels[konflux.LabelPipelineRun]),
			Commit: r.Labels[konflux.LabelSHA], Component: component, Outcome: releaseOutcome(&r), When: when,
			Release: r.Name, Gates: r.Annotations[konflux.AnnotationGates], Sources: []string{FromRelease}})
	}
	return out
}

// releaseOutcome is a Release's state in the history's words.
func releaseOutcome(r *konflux.Release) string {
	switch done, ok := r.Done(); {
	case r.Doubtful():
		return outcome.Doubtful
	case done && ok:
		return outcome.Succeeded
	case done:
		return outcome.Failed
	}
	return outcome.Running
}

// RunFromPipelineRun reads the record of a release-to-prod PipelineRun of component from its
// params and results; ok is false for a PipelineRun of another pipeline or component.
func RunFromPipelineRun(u *unstructured.Unstructured, component string) (Run, bool) {
	spec, _, _ := unstructured.NestedMap(u.Object, "status", "pipelineSpec")
	if !isReleaseToProd(spec) {
		return Run{}, false
	}
	params := paramValues(u.Object, spec)
	if params["component"] != component {
		return Run{}, false
	}
	results := map[string]string{}
	raw, _, _ := unstructured.NestedSlice(u.Object, "status", "results")
	for _, r := range raw {
		if m, ok := r.(map[string]any); ok {
			name, _ := m["name"].(string)
			value, _ := m["value"].(string)
			results[name] = value
		}
	}
	r := Run{PipelineRun: u.GetName(), Commit: params["commit_sha"], Component: component,
		Outcome: results[string(ResultReleaseStatus)], Release: results[string(ResultReleaseName)],
		Gates: results[string(ResultGateSummary)], Sources: []string{FromPipelineRun}}
	for _, f := range [][]string{{"status", "completionTime"}, {"status", "startTime"}, {"metadata", "creationTimestamp"}} {
		if s, _, _ := unstructured.NestedString(u.Object, f...); s != "" {
			if t, err := time.Parse(time.RFC3339, s); err == nil {
				r.When = t
				break
			}
		}
	}
	if r.Outcome == "" {
		// No report result: the report never ran (a PipelineRun timeout skips finally) or the
		// run is not over. What Tekton says of the run stands in.
		r.Outcome = outcome.Running
		if c := pipelineRunSucceeded(u); c != nil && c["status"] != "Unknown" {
			r.Outcome, _ = c["reason"].(string)
		}
	}
	return r, true
}

// isReleaseToProd tells a run of this project's Pipeline, whatever it was started from (PaC's
// git resolver, a bundle, tkn -f): its spec has the commit_sha param and the report finally task.
func isReleaseToProd(spec map[string]any) bool {
	hasParam, hasReport := false, false
	params, _, _ := unstructured.NestedSlice(spec, "params")
	for _, p := range params {
		if m, ok := p.(map[string]any); ok && m["name"] == "commit_sha" {
			hasParam = true
		}
	}
	finally, _, _ := unstructured.NestedSlice(spec, "finally")
	for _, f := range finally {
		if m, ok := f.(map[string]any); ok && m["name"] == "report" {
			hasReport = true
		}
	}
	return hasParam && hasReport
}

// paramValues are the run's params, the Pipeline's defaults filled in.
func paramValues(obj, spec map[string]any) map[string]string {
	out := map[string]string{}
	defaults, _, _ := unstructured.NestedSlice(spec, "params")
	for _, p := range defaults {
		if m, ok := p.(map[string]any); ok {
			if d, ok := m["default"].(string); ok {
				out[fmt.Sprint(m["name"])] = d
			}
		}
	}
	given, _, _ := unstructured.NestedSlice(obj, "spec", "params")
	for _, p := range given {
		if m, ok := p.(map[string]any); ok {
			if v, ok := m["value"].(string); ok {
				out[fmt.Sprint(m["name"])] = v
			}
		}
	}
	return out
}

func pipelineRunSucceeded(u *unstructured.Unstructured) map[string]any {
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, c := range conds {
		if m, ok := c.(map[string]any); ok && m["type"] == "Succeeded" {
			return m
		}
	}
	return nil
}

// Merge joins the runs of several stores into one list, newest first, one row per run: the
// same PipelineRun in several stores is one run (a run without a PipelineRun name, one per
// Release). The run's own record (the ConfigMap's entry, the PipelineRun's results) gives the
// outcome before the Release's state: a Release created by a run that did not wait reads
// "Running" in the run's record and may since have succeeded, which the RELEASE column shows.
func Merge(lists ...[]Run) []Run {
	var out []Run
	index := map[string]int{}
	for _, list := range lists {
		for _, r := range list {
			key := runKey(r)
			i, seen := index[key]
			if key == "" || !seen {
				if key != "" {
					index[key] = len(out)
				}
				out = append(out, r)
				continue
			}
			out[i] = out[i].merged(r)
		}
	}
	slices.SortStableFunc(out, func(a, b Run) int { return b.When.Compare(a.When) })
	return out
}

func runKey(r Run) string {
	switch {
	case r.PipelineRun != "":
		return "run/" + r.PipelineRun
	case r.Release != "":
		return "release/" + r.Release
	}
	return ""
}

// merged fills what r lacks from o (a later store), and prefers a run's own outcome to a
// Release's state.
func (r Run) merged(o Run) Run {
	if r.Outcome == "" || (slices.Equal(r.Sources, []string{FromRelease}) && !slices.Contains(o.Sources, FromRelease)) {
		r.Outcome = cmp.Or(o.Outcome, r.Outcome)
	}
	r.Commit, r.Release, r.Gates, r.Cause = cmp.Or(r.Commit, o.Commit), cmp.Or(r.Release, o.Release), cmp.Or(r.Gates, o.Gates), cmp.Or(r.Cause, o.Cause)
	if r.When.IsZero() || (!o.When.IsZero() && o.When.After(r.When) && !slices.Contains(o.Sources, FromRelease)) {
		r.When = o.When
	}
	for _, s := range o.Sources {
		if !slices.Contains(r.Sources, s) {
			r.Sources = append(r.Sources, s)
		}
	}
	return r
}

// Runs is what Collect read: the runs, newest first, and a line for each store it could not
// read (the others still count).
type Runs struct {
	Runs  []Run
	Notes []string
}

// Collect reads the release history of component from every store in use: the history
// ConfigMap configMap when it exists and is readable, the records on the Releases the project
// created, and the results of the release-to-prod PipelineRuns. It fails only when no store
// could be read.
func Collect(ctx context.Context, kc *konflux.Client, component, configMap string) (Runs, error) {
	var out Runs
	var lists [][]Run
	var errs []error
	note := func(store string, err error) {
		errs = append(errs, err)
		if a, ok := failure.Explain(err); ok {
			out.Notes = append(out.Notes, fmt.Sprintf("%s not read: %s (fix: %s)", store, a.Cause, a.Fix))
			return
		}
		out.Notes = append(out.Notes, fmt.Sprintf("%s not read: %v", store, err))
	}
	if configMap != "" {
		if entries, err := Read(ctx, kc, configMap); err != nil {
			note("ConfigMap "+configMap, err)
		} else {
			lists = append(lists, RunsFromEntries(entries, component))
		}
	}
	var prs []Run
	if err := kc.EachPipelineRun(ctx, func(u *unstructured.Unstructured) {
		if r, ok := RunFromPipelineRun(u, component); ok {
			prs = append(prs, r)
		}
	}); err != nil {
		note("PipelineRuns", err)
	} else {
		lists = append(lists, prs)
	}
	sel := labels.Set{konflux.LabelComponent: component, konflux.LabelCreatedBy: konflux.CreatedBy}.String()
	if rels, err := kc.ListReleases(ctx, sel); err != nil {
		note("Releases", err)
	} else {
		lists = append(lists, RunsFromReleases(rels, component))
	}
	if len(lists) == 0 {
		return out, fmt.Errorf("no store of the release history could be read: %w", errors.Join(errs...))
	}
	out.Runs = Merge(lists...)
	return out, nil
}
