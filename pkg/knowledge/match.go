package knowledge

import (
	"errors"
	"regexp"
	"strings"

	"github.com/release-to-prod/release-to-prod/pkg/failure"
)

// UnknownID is the failure id of an error the catalog does not know, in matches and
// fingerprints.
const UnknownID = "unknown"

// maxMatchedText bounds the error text a pattern is matched against (RE2 is linear, but an
// error that carries a megabyte of body need not be scanned whole).
const maxMatchedText = 4096

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

type compiledFix struct {
	fix     *LearnedFix
	pattern *regexp.Regexp
}

func (s *Store) compile() {
	s.compiled = s.compiled[:0]
	for i := range s.LearnedFixes {
		c := compiledFix{fix: &s.LearnedFixes[i]}
		if p := s.LearnedFixes[i].Match.Pattern; p != "" {
			re, err := regexp.Compile(p)
			if err != nil { // Decode refused it already; a hand-made Store is matched without it
				continue
			}
			c.pattern = re
		}
		s.compiled = append(s.compiled, c)
	}
}

// Lookup returns the first learned fix that matches f.
func (s *Store) Lookup(f Failure) (LearnedFix, bool) {
	if s == nil || len(s.LearnedFixes) == 0 {
		return LearnedFix{}, false
	}
	if len(s.compiled) != len(s.LearnedFixes) {
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
			m.Status != 0 && m.Status != f.Status,
			c.pattern != nil && !c.pattern.MatchString(msg):
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
