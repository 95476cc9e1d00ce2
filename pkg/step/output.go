package step

import (
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/release-to-prod/release-to-prod/pkg/failure"
)

// Step is what a step body uses to talk to the user and to Tekton.
type Step struct {
	Name    string
	out     io.Writer
	format  string
	results *Results
	mu      sync.Mutex
}

// NewStep returns a Step writing to out; tests of step bodies use it.
func NewStep(name string, out io.Writer, format, resultsDir string) *Step {
	return &Step{Name: name, out: out, format: format, results: NewResults(resultsDir)}
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

// Result writes one Tekton result; see Results.Write.
func (s *Step) Result(name, value string) error { return s.results.Write(name, value) }

// Out is where long output (a YAML document, a table) goes.
func (s *Step) Out() io.Writer { return s.out }

type record struct {
	Time  string          `json:"time"`
	Step  string          `json:"step"`
	Level string          `json:"level"`
	Msg   string          `json:"msg"`
	Error string          `json:"error,omitempty"`
	About *failure.Advice `json:"advice,omitempty"`
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

// fail is the one exit path: what failed, the likely cause and the fix.
func (s *Step) fail(err error, config bool) {
	r := record{Level: "error", Msg: s.Name + " failed", Error: err.Error()}
	if a, ok := failure.Explain(err); ok {
		r.About = &a
	} else if config {
		r.About = &failure.Advice{ID: failure.InvalidInput, Title: "invalid configuration",
			Cause: "a required setting is missing or malformed", Fix: "set it as shown (run with --help for the list)"}
	}
	if s.format == "json" {
		s.emit(r, "")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	fmt.Fprintf(s.out, "✗ %s failed: %s\n", s.Name, r.Error)
	if r.About != nil {
		fmt.Fprintf(s.out, "  likely cause: %s\n  fix: %s\n", r.About.Cause, r.About.Fix)
	}
}
