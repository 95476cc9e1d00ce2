package knowledge

import (
	"errors"
	"regexp"
	"strings"

	"github.com/release-to-prod/release-to-prod/pkg/step/failure"
)

// UnknownID is the failure id of an error the catalog does not know, in matches and
// fingerprints.
const UnknownID = "unknown"

// maxMatchedText bounds the error text a pattern is matched against: RE2 is linear in the text
// times the program, and what a pattern is about is at the start of an error message (the
// history keeps 500 bytes of it). With MaxPatternProgram it keeps a pattern on RE2's bounded
// backtracker, a few milliseconds at worst.
const maxMatchedText = 1024

// Failure is what a learned fix is matched against.
type Failure struct {
	Step    string `json:"step"`
	ID      string `json:"id"` // the catalog's failure id; UnknownID when it knows nothing
	Status  int    `json:"status,omitempty"`
	Message string `json:"message"`
}

// FailureOf describes err, as failed in step, for matching.
func FailureOf(step string, err error) Failure {
	f := Failure{Step: step, ID: UnknownID}
	if err == nil {
		return f
	}
	f.Message = err.Error()
	if a, ok := failure.Explain(err); ok {
		f.ID = string(a.ID)
	}
	var hs *failure.HTTPStatusError
	if errors.As(err, &hs) {
		f.Status = hs.Code
	}
	return f
}

// compiledFix is a learned fix with its pattern, compiled once, the first time a failure
// matches the rest of its fix: a store's patterns cost nothing in the steps that do not fail,
// and only those of fixes about the failing step, failure and status are ever compiled.
type compiledFix struct {
	fix     *LearnedFix
	tried   bool
	pattern *regexp.Regexp // nil: not compiled yet, or refused (tried)
}

// compile prepares the fixes for Lookup; it compiles nothing. Callers hold s.mu.
func (s *Store) compile() {
	s.compiled, s.programs = make([]*compiledFix, len(s.LearnedFixes)), 0
	for i := range s.LearnedFixes {
		s.compiled[i] = &compiledFix{fix: &s.LearnedFixes[i]}
	}
}

// patternOf compiles c's pattern the first time it is needed. A pattern over the budget, or
// one that would bring the compiled patterns over MaxStorePrograms together, is never
// compiled: Decode refused it already, so only a Store made by hand can hold one. Callers
// hold s.mu.
func (s *Store) patternOf(c *compiledFix) *regexp.Regexp {
	if !c.tried {
		c.tried = true
		if re, n, err := CompilePattern(c.fix.Match.Pattern); err == nil && s.programs+n <= MaxStorePrograms {
			c.pattern, s.programs = re, s.programs+n
		}
	}
	return c.pattern
}

// Lookup returns the first learned fix that matches f. The cheap fields are compared first
// (step, failure id, status, fingerprint); a pattern is compiled and matched only for a fix
// whose other fields match.
func (s *Store) Lookup(f Failure) (LearnedFix, bool) {
	if s == nil || len(s.LearnedFixes) == 0 {
		return LearnedFix{}, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.compiled) != len(s.LearnedFixes) || (len(s.compiled) > 0 && s.compiled[0].fix != &s.LearnedFixes[0]) {
		s.compile()
	}
	fp := ""
	msg := f.Message
	if len(msg) > maxMatchedText {
		msg = msg[:maxMatchedText]
	}
	for _, c := range s.compiled {
		m := c.fix.Match
		switch {
		case m.Step != "" && m.Step != f.Step,
			m.Failure != "" && m.Failure != f.ID,
			m.Status != 0 && m.Status != f.Status:
			continue
		}
		if m.Fingerprint != "" {
			if fp == "" {
				fp = Fingerprint(f)
			}
			if !strings.EqualFold(m.Fingerprint, fp) {
				continue
			}
		}
		if m.Pattern != "" {
			if re := s.patternOf(c); re == nil || !re.MatchString(msg) {
				continue
			}
		}
		return *c.fix, true
	}
	return LearnedFix{}, false
}

// Explanation is what the output says of a failure: the catalog's advice, what the team taught,
// or, when neither knows it, its fingerprint so that it can be taught.
type Explanation struct {
	Failure     Failure
	Fingerprint string
	Builtin     *failure.Advice
	Team        *LearnedFix
	// Source names the store a Team entry came from.
	Source string
}

// Explain explains the failure err of step, the built-in catalog first, then the store (which
// may be nil).
func Explain(step string, err error, s *Store) Explanation {
	f := FailureOf(step, err)
	e := Explanation{Failure: f, Fingerprint: Fingerprint(f), Source: s.Source()}
	if a, ok := failure.Explain(err); ok {
		e.Builtin = &a
	}
	if fix, ok := s.Lookup(f); ok {
		e.Team = &fix
	}
	return e
}

// Known reports whether the catalog or the team explained the failure.
func (e Explanation) Known() bool { return e.Builtin != nil || e.Team != nil }

// TeamSource is "team knowledge: ConfigMap … entry vpn, by alice, 2026-03-01".
func (e Explanation) TeamSource() string {
	if e.Team == nil {
		return ""
	}
	parts := []string{"from the " + e.Source}
	if e.Team.ID != "" {
		parts = append(parts, "entry "+e.Team.ID)
	}
	if e.Team.By != "" {
		parts = append(parts, "by "+e.Team.By)
	}
	if e.Team.Added != "" {
		parts = append(parts, e.Team.Added)
	}
	return strings.Join(parts, ", ")
}

// Cause and Fix are the advice in one line each, as the gate verdict and Slack show it: the
// built-in text, then the team's (or the team's alone when its entry replaces the built-in one).
func (e Explanation) Cause() string {
	return e.join(func(a *failure.Advice) string { return a.Cause }, func(l *LearnedFix) string { return l.Cause })
}

// Fix is the fix in one line; see Cause.
func (e Explanation) Fix() string {
	return e.join(func(a *failure.Advice) string { return a.Fix }, func(l *LearnedFix) string { return l.Fix })
}

func (e Explanation) join(builtin func(*failure.Advice) string, team func(*LearnedFix) string) string {
	switch {
	case e.Team == nil && e.Builtin == nil:
		return ""
	case e.Team == nil:
		return builtin(e.Builtin)
	case e.Builtin == nil || e.Team.Replace:
		return team(e.Team) + " [team knowledge" + e.teamBy() + "]"
	}
	return builtin(e.Builtin) + "; team knowledge" + e.teamBy() + ": " + team(e.Team)
}

func (e Explanation) teamBy() string {
	if e.Team.By == "" {
		return ""
	}
	return ", by " + e.Team.By
}
