package step

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/release-to-prod/release-to-prod/pkg/step/failure"
	"github.com/release-to-prod/release-to-prod/pkg/step/knowledge"
)

// TerminationBudget is the size of a TaskRun's termination message, which carries the results
// of all its steps: Tekton refuses a TaskRun whose results do not fit.
const TerminationBudget = 4096

// Results writes Tekton results: one file per result, no trailing newline, written atomically,
// and the running total checked against the termination budget as Tekton encodes it.
type Results struct {
	dir    string
	budget int
	mu     sync.Mutex
	values map[string]string
}

// NewResults returns a writer for dir, held to the whole TerminationBudget.
func NewResults(dir string) *Results {
	return &Results{dir: dir, budget: TerminationBudget, values: map[string]string{}}
}

// Budget is the number of bytes the results may take.
func (r *Results) Budget() int { return r.budget }

// Write stores value as result name. It fails, writing nothing, when the results would no longer
// fit the budget.
func (r *Results) Write(name, value string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	next := make(map[string]string, len(r.values)+1)
	for k, v := range r.values {
		next[k] = v
	}
	next[name] = value
	if n := EncodedSize(next); n > r.budget {
		return failure.New(failure.ResultsTooLarge, nil, "result %s: results would take %d bytes of the %d bytes this step's container may keep", name, n, r.budget)
	}
	if err := os.MkdirAll(r.dir, 0o755); err != nil {
		return fmt.Errorf("result %s: %w", name, err)
	}
	tmp, err := os.CreateTemp(r.dir, "."+name+".*")
	if err != nil {
		return fmt.Errorf("result %s: %w", name, err)
	}
	_, werr := tmp.WriteString(value)
	cerr := tmp.Close()
	if werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(tmp.Name(), filepath.Join(r.dir, name))
	}
	if werr != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("result %s: %w", name, werr)
	}
	r.values = next
	return nil
}

// EncodedSize is the size of results in a termination message, which Tekton writes as a JSON
// array of {"key":…,"value":…,"type":1}.
func EncodedSize[K ~string](results map[K]string) int {
	type entry struct {
		Key   string `json:"key"`
		Value string `json:"value"`
		Type  int    `json:"type"`
	}
	list := make([]entry, 0, len(results))
	for k, v := range results {
		list = append(list, entry{Key: string(k), Value: v, Type: 1})
	}
	b, err := json.Marshal(list)
	if err != nil {
		return TerminationBudget + 1
	}
	return len(b)
}

// AdviceFile is written beside the results of a step that failed with a known cause: its first
// line is the cause, its second the fix. It is not a declared result (Tekton ignores it, and it
// takes nothing of the termination budget); the gate verdict reads it so that one run can
// report every failed gate with its advice.
const AdviceFile = "ADVICE"

// maxAdvice bounds each line of the advice file.
const maxAdvice = 480

// writeAdvice leaves the explanation for the gate verdict: the ADVICE file when the catalog or
// the team explained the failure (with the team's cause and fix, marked as such), the
// knowledge.UnmatchedFile with its fingerprint when nobody did.
func (s *Step) writeAdvice(e knowledge.Explanation) {
	if s.results == nil {
		return
	}
	var werr error
	if e.Known() {
		text := Clip(oneLine(e.Cause()), maxAdvice) + "\n" + Clip(oneLine(e.Fix()), maxAdvice)
		werr = os.MkdirAll(s.results.dir, 0o755)
		if werr == nil {
			werr = os.WriteFile(filepath.Join(s.results.dir, AdviceFile), []byte(text), 0o644)
		}
	} else if e.Fingerprint != "" {
		werr = knowledge.WriteUnmatched(s.results.dir, knowledge.UnmatchedOf(e))
	}
	if werr != nil {
		s.Warn("could not write the advice for the gate verdict: %v", werr)
	}
}

// ClipRunes cuts s to at most n runes, marking a cut with "…" (a quoted message in a line).
func ClipRunes(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// Clip cuts s to at most n bytes on a rune boundary, marking a cut with "…" (a result or a
// message line held to a byte budget).
func Clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
