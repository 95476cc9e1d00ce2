// Package knowledge is the team's knowledge store, read at run time so that nothing needs a
// rebuild: known issues (checked before the gates) and learned fixes (matched after the built-in
// catalog of package failure when a step fails), plus the fingerprint that names a failure
// nobody explained yet, so that it can be taught.
//
// The store lives in a ConfigMap of the tenant namespace (see package knowledge/store, which
// reads and writes it with client-go); the first step of a pod hands it to the other steps as a
// file (WriteFile / ReadFile), so that steps which do not talk to Kubernetes use it too. This
// package links neither client-go nor a YAML parser: every step binary imports it through
// package step.
//
// # Format (version 1)
//
// Two data keys, each a YAML document with a version:
//
//	known-issues.yaml: |
//	  version: 1
//	  issues:
//	    - id: quay-scans-delayed          # names the entry in warnings; optional
//	      service: quay                   # konflux, quay, alertmanager, app-interface, slack or any
//	      message: Quay security scans are delayed (status.quay.io incident 1234)
//	      expires: 2026-03-05T18:00:00Z   # optional: RFC 3339, or a date (the end of that day, UTC)
//	      blocks: false                   # optional: true stops the release with the message
//	learned-fixes.yaml: |
//	  version: 1
//	  fixes:
//	    - id: vpn
//	      match:                          # every field given must match; at least one
//	        step: check-image             # the step name
//	        failure: network              # the catalog's failure id ("unknown" for none)
//	        status: 503                   # the HTTP status of the error
//	        pattern: 'dial tcp .*: i/o timeout'   # RE2 regexp on the error text (see PatternCost)
//	        fingerprint: 3f2a9c1b7d4e     # the failure's fingerprint (see Fingerprint)
//	      cause: the VPN to the lab is down
//	      fix: reconnect the VPN (ask #lab-infra), then re-run
//	      replace: false                  # true: shown instead of the built-in cause and fix
//	      by: alice
//	      added: 2026-03-01
//
// Bad entries never break a release, unless they may hide a blocking known issue: each one is
// reported as a Warning naming it and skipped, and the rest is used; a known-issues key that
// cannot be read, or a skipped known issue that does not say blocks: false, is a Warning with
// MayBlock, on which the known-issues gate fails closed. The first learned fix that matches wins (keep specific entries first;
// the teach command puts new entries first). Every text is made plain (Text) when read, so that
// an entry cannot format Slack messages or send terminal escapes.
package knowledge

import (
	"fmt"
	"sync"
	"time"
)

// Version is the format version this package reads and writes.
const Version = 1

// The ConfigMap and its keys.
const (
	DefaultConfigMap = "release-knowledge"
	KnownIssuesKey   = "known-issues.yaml"
	LearnedFixesKey  = "learned-fixes.yaml"
)

// Bounds. A ConfigMap may hold 1 MiB; the store is read by every step that fails and printed
// into Slack, so it is kept far smaller.
const (
	// MaxStoreBytes bounds the raw data of the store (both keys); a larger store is not read.
	MaxStoreBytes = 256 << 10
	// MaxKnownIssues and MaxLearnedFixes bound the entries used; the rest is warned about.
	MaxKnownIssues  = 50
	MaxLearnedFixes = 200
	// MaxText bounds a message, cause or fix; MaxPattern a regexp; maxName an id, step, name.
	MaxText    = 500
	MaxPattern = 256
	maxName    = 100
)

// The services a known issue may name.
var Services = []string{"konflux", "quay", "alertmanager", "app-interface", "slack", "any"}

// KnownIssue is something the team knows is wrong right now.
type KnownIssue struct {
	ID      string `json:"id,omitempty" yaml:"id,omitempty"`
	Service string `json:"service" yaml:"service"`
	Message string `json:"message" yaml:"message"`
	// Expires is RFC 3339 (a date in the input means the end of that day, UTC); empty: never.
	Expires string `json:"expires,omitempty" yaml:"expires,omitempty"`
	Blocks  bool   `json:"blocks,omitempty" yaml:"blocks,omitempty"`
	By      string `json:"by,omitempty" yaml:"by,omitempty"`
	Added   string `json:"added,omitempty" yaml:"added,omitempty"`

	expires time.Time
}

// Active reports whether the issue has not expired at now.
func (k KnownIssue) Active(now time.Time) bool { return k.expires.IsZero() || now.Before(k.expires) }

// ExpiresAt is the expiry, zero when none.
func (k KnownIssue) ExpiresAt() time.Time { return k.expires }

// Match says which failures a learned fix is about. Empty fields match anything; at least one
// must be set.
type Match struct {
	Step        string `json:"step,omitempty" yaml:"step,omitempty"`
	Failure     string `json:"failure,omitempty" yaml:"failure,omitempty"`
	Status      int    `json:"status,omitempty" yaml:"status,omitempty"`
	Pattern     string `json:"pattern,omitempty" yaml:"pattern,omitempty"`
	Fingerprint string `json:"fingerprint,omitempty" yaml:"fingerprint,omitempty"`
}

// LearnedFix is a cause and fix the team taught for failures that Match.
type LearnedFix struct {
	ID      string `json:"id,omitempty" yaml:"id,omitempty"`
	Match   Match  `json:"match" yaml:"match"`
	Cause   string `json:"cause" yaml:"cause"`
	Fix     string `json:"fix" yaml:"fix"`
	Replace bool   `json:"replace,omitempty" yaml:"replace,omitempty"`
	By      string `json:"by,omitempty" yaml:"by,omitempty"`
	Added   string `json:"added,omitempty" yaml:"added,omitempty"`
	// Example is the message of the failure it was taught from, for people reading the store.
	Example string `json:"example,omitempty" yaml:"example,omitempty"`

	program int // the size of the pattern's compiled program, when Decode read it
}

// KnownIssuesDoc and LearnedFixesDoc are the documents of the two keys.
type KnownIssuesDoc struct {
	Version int          `json:"version" yaml:"version"`
	Issues  []KnownIssue `json:"issues" yaml:"issues"`
}

// LearnedFixesDoc is the document of learned-fixes.yaml.
type LearnedFixesDoc struct {
	Version int          `json:"version" yaml:"version"`
	Fixes   []LearnedFix `json:"fixes" yaml:"fixes"`
}

// Store is the validated knowledge: only entries that passed validation are in it.
type Store struct {
	// Namespace and ConfigMap say where the store came from, for the output and the teach hints.
	Namespace string
	ConfigMap string
	// Found is false when the ConfigMap did not exist (an empty store).
	Found        bool
	KnownIssues  []KnownIssue
	LearnedFixes []LearnedFix

	// The patterns, compiled when a failure first matches the rest of their fix (see Lookup).
	mu       sync.Mutex
	compiled []*compiledFix
	programs int // the compiled patterns' programs together
}

// Warning is an entry (or a whole key) that was skipped, and why.
type Warning struct {
	Key   string // the data key
	Entry string // the entry's id, or #n (1-based) when it has none; "" for the whole key
	Err   string
	// MayBlock says that what was skipped could have been a blocking known issue: a key of
	// known issues that cannot be read, or an entry that does not say blocks: false. The
	// known-issues gate fails closed on it; a wrong learned fix never blocks.
	MayBlock bool
}

func (w Warning) String() string {
	if w.Entry == "" {
		return fmt.Sprintf("%s: %s", w.Key, w.Err)
	}
	return fmt.Sprintf("%s: entry %s skipped: %s", w.Key, w.Entry, w.Err)
}

// Active returns the known issues that have not expired at now.
func (s *Store) Active(now time.Time) []KnownIssue {
	if s == nil {
		return nil
	}
	var out []KnownIssue
	for _, k := range s.KnownIssues {
		if k.Active(now) {
			out = append(out, k)
		}
	}
	return out
}

// Source names the store for people: "ConfigMap release-knowledge in aap-aa-tenant".
func (s *Store) Source() string {
	name := DefaultConfigMap
	if s != nil && s.ConfigMap != "" {
		name = s.ConfigMap
	}
	if s == nil || s.Namespace == "" {
		return "team knowledge store (ConfigMap " + name + ")"
	}
	return "team knowledge store (ConfigMap " + name + " in " + s.Namespace + ")"
}
