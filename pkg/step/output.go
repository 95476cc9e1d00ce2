package step

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/release-to-prod/release-to-prod/pkg/step/failure"
	"github.com/release-to-prod/release-to-prod/pkg/step/knowledge"
)

// Step is what a step body uses to talk to the user and to Tekton.
type Step struct {
	Name    string
	out     io.Writer
	format  string
	results *Results
	mu      sync.Mutex

	knowledgeFile string           // KNOWLEDGE_FILE
	knowledge     *knowledge.Store // set by SetKnowledge, or read from knowledgeFile on failure
}

// NewStep returns a Step writing to out; tests of step bodies use it.
// Its output is escaped (see Escape), as Main's is.
func NewStep(name string, out io.Writer, format, resultsDir string) *Step {
	return &Step{Name: name, out: NewSafeWriter(out), format: format, results: NewResults(resultsDir)}
}

// OK reports an action that succeeded: "✓ …".
func (s *Step) OK(format string, args ...any) { s.line("ok", "✓", format, args...) }

// Info reports a fact or progress: "  …".
func (s *Step) Info(format string, args ...any) { s.line("info", " ", format, args...) }

// Warn reports something that does not fail the step: "! …".
func (s *Step) Warn(format string, args ...any) { s.line("warn", "!", format, args...) }

// Skip reports a check that was deliberately not done: "- …".
func (s *Step) Skip(format string, args ...any) { s.line("skip", "-", format, args...) }

// Fail reports a check that failed without ending the step (a gate that collects several
// findings): "✗ …". The step still returns an error at the end.
func (s *Step) Fail(format string, args ...any) { s.line("fail", "✗", format, args...) }

// ResultName names a result a step writes. Each step declares its results as constants of this
// type beside its code; the generator (pkg/build/tektongen) and every reader of a TaskRun use those
// constants, so that a misspelt result is a compile error rather than an empty value at run time.
type ResultName string

// Result writes one Tekton result; see Results.Write.
func (s *Step) Result(name ResultName, value string) error {
	return s.results.Write(string(name), value)
}

// Out is where long output (a YAML document, a table) goes.
func (s *Step) Out() io.Writer { return s.out }

type record struct {
	Time  string          `json:"time"`
	Step  string          `json:"step"`
	Level string          `json:"level"`
	Msg   string          `json:"msg"`
	Error string          `json:"error,omitempty"`
	About *failure.Advice `json:"advice,omitempty"`
	// Team is what the team knowledge store adds to (or puts in place of) the advice.
	Team *teamAdvice `json:"team,omitempty"`
	// Fingerprint and Teach are given for a failure nobody explained yet.
	Fingerprint string `json:"fingerprint,omitempty"`
	Teach       string `json:"teach,omitempty"`
}

func (s *Step) line(level, mark, format string, args ...any) {
	s.emit(record{Level: level, Msg: fmt.Sprintf(format, args...)}, mark)
}

func (s *Step) emit(r record, mark string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.format == "json" {
		r.Time = time.Now().UTC().Format(time.RFC3339Nano)
		r.Step = s.Name
		b, err := json.Marshal(r)
		if err != nil { // cannot happen for this struct; keep the message anyway
			b = []byte(fmt.Sprintf(`{"level":%q,"msg":%q}`, r.Level, r.Msg))
		}
		fmt.Fprintf(s.out, "%s\n", b)
		return
	}
	fmt.Fprintf(s.out, "%s %s\n", mark, r.Msg)
}

// fail is the one exit path: what failed, the likely cause and the fix. The cause and fix come
// from the built-in catalog and the team's learned fixes (knowledge.go); a failure neither
// explains gets its fingerprint and the command that teaches it.
func (s *Step) fail(err error, config bool) knowledge.Explanation {
	r := record{Level: "error", Msg: s.Name + " failed", Error: err.Error()}
	var e knowledge.Explanation
	if config {
		r.About = &failure.Advice{ID: failure.InvalidInput, Title: "invalid configuration",
			Cause: "a required setting is missing or malformed", Fix: "set it as shown (run with --help for the list)"}
		if a, ok := failure.Explain(err); ok {
			r.About = &a
		}
	} else {
		e = knowledge.Explain(s.Name, err, s.loadKnowledge())
		r.About = e.Builtin
		if e.Team != nil {
			r.Team = &teamAdvice{Cause: e.Team.Cause, Fix: e.Team.Fix, Replace: e.Team.Replace, Source: e.TeamSource()}
		}
		if !e.Known() {
			r.Fingerprint = e.Fingerprint
			r.Teach = TeachCommand(e, s.knowledge)
		}
	}
	if s.format == "json" {
		s.emit(r, "")
		return e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	fmt.Fprintf(s.out, "✗ %s failed: %s\n", s.Name, r.Error)
	switch {
	case r.Team != nil && (r.Team.Replace || r.About == nil):
		fmt.Fprintf(s.out, "  likely cause: %s\n  fix: %s\n  (team knowledge, %s)\n", r.Team.Cause, r.Team.Fix, r.Team.Source)
	case r.Team != nil:
		fmt.Fprintf(s.out, "  likely cause: %s\n  fix: %s\n", r.About.Cause, r.About.Fix)
		fmt.Fprintf(s.out, "  team knowledge (%s):\n    likely cause: %s\n    fix: %s\n", r.Team.Source, r.Team.Cause, r.Team.Fix)
	case r.About != nil:
		fmt.Fprintf(s.out, "  likely cause: %s\n  fix: %s\n", r.About.Cause, r.About.Fix)
	case r.Fingerprint != "":
		fmt.Fprintf(s.out, "  no known cause yet: this failure is new to the catalog and the team (fingerprint %s).\n", r.Fingerprint)
		fmt.Fprint(s.out, indent(r.Teach, "  "))
	}
	return e
}

func indent(text, prefix string) string {
	var b strings.Builder
	for _, l := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
		b.WriteString(prefix + l + "\n")
	}
	return b.String()
}
