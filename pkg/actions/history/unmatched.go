package history

import (
	"reflect"
	"sort"

	"github.com/release-to-prod/release-to-prod/pkg/step/knowledge"
)

// maxUnmatchedPerEntry bounds the unknown failures one history entry records (a run has at most
// one per gate).
const maxUnmatchedPerEntry = 8

func boundedUnmatched(list []knowledge.Unmatched) []knowledge.Unmatched {
	if len(list) == 0 {
		return nil
	}
	out := make([]knowledge.Unmatched, 0, min(len(list), maxUnmatchedPerEntry))
	for _, u := range list {
		if len(out) == maxUnmatchedPerEntry {
			break
		}
		if u = u.Bounded(); u.Fingerprint != "" {
			out = append(out, u)
		}
	}
	return out
}

// same reports whether two entries record the same thing (the entry type holds a slice, so ==
// does not apply).
func (e Entry) same(o Entry) bool {
	if len(e.Unmatched) == 0 && len(o.Unmatched) == 0 {
		e.Unmatched, o.Unmatched = nil, nil
	}
	return reflect.DeepEqual(e, o)
}

// FailureCount is one fingerprint's unknown failures across the history.
type FailureCount struct {
	knowledge.Unmatched        // the newest occurrence
	Count               int    // occurrences in the history
	Last                string // when the newest occurrence's run finished
	PipelineRun         string // the newest occurrence's run
}

// UnmatchedFailures counts the unknown failures of the history (newest first) by fingerprint,
// the most frequent first, then the most recent.
func UnmatchedFailures(entries []Entry) []FailureCount {
	byFP := map[string]*FailureCount{}
	var order []string
	for _, e := range entries {
		for _, u := range e.Unmatched {
			if c, ok := byFP[u.Fingerprint]; ok {
				c.Count++
				continue
			}
			byFP[u.Fingerprint] = &FailureCount{Unmatched: u, Count: 1, Last: e.Finished, PipelineRun: e.PipelineRun}
			order = append(order, u.Fingerprint)
		}
	}
	out := make([]FailureCount, len(order))
	for i, fp := range order {
		out[i] = *byFP[fp]
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Count > out[j].Count })
	return out
}
