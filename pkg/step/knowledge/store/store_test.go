package store

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/release-to-prod/release-to-prod/pkg/step/knowledge"
)

const exampleKnownIssues = `version: 1
issues:
  - id: quay-scans-delayed
    service: quay
    message: Quay security scans are delayed (status.quay.io incident 1234)
    expires: 2026-03-05T18:00:00Z
  - id: freeze
    service: any
    message: "*Release freeze* until the 2.5 GA: no production releases"
    blocks: true
`

const exampleLearnedFixes = `version: 1
# taught by the team; the first matching entry wins
fixes:
  - id: vpn
    match:
      step: check-image
      failure: network
      pattern: 'dial tcp .*: i/o timeout'
    cause: the VPN to the lab is down
    fix: reconnect the VPN (ask #lab-infra), then re-run
    by: alice
    added: 2026-03-01
`

func TestParse(t *testing.T) {
	s, warns := Parse(map[string]string{knowledge.KnownIssuesKey: exampleKnownIssues, knowledge.LearnedFixesKey: exampleLearnedFixes})
	assert.Empty(t, warns)
	require.Len(t, s.KnownIssues, 2)
	assert.Equal(t, "2026-03-05T18:00:00Z", s.KnownIssues[0].Expires)
	assert.True(t, s.KnownIssues[1].Blocks)
	assert.Equal(t, "∗Release freeze∗ until the 2.5 GA: no production releases", s.KnownIssues[1].Message, "no Slack formatting")
	require.Len(t, s.LearnedFixes, 1)
	assert.Equal(t, knowledge.Match{Step: "check-image", Failure: "network", Pattern: `dial tcp .*: i/o timeout`}, s.LearnedFixes[0].Match)
	assert.Equal(t, "2026-03-01", s.LearnedFixes[0].Added)
}

func TestParseWarnsAndUsesTheRest(t *testing.T) {
	tests := []struct {
		name string
		data map[string]string
		warn string
		used int // learned fixes used
	}{
		{"invalid regexp", map[string]string{knowledge.LearnedFixesKey: exampleLearnedFixes + "  - id: bad\n    match: {pattern: '(unclosed'}\n    cause: c\n    fix: f\n"},
			`entry "bad" skipped: match: pattern is not a valid regexp`, 1},
		{"unknown field", map[string]string{knowledge.LearnedFixesKey: exampleLearnedFixes + "  - id: typo\n    match: {step: x}\n    cause: c\n    fix: f\n    replcae: true\n"},
			`entry "typo" skipped: unknown field "replcae"`, 1},
		{"bad expiry", map[string]string{knowledge.KnownIssuesKey: "version: 1\nissues:\n  - id: soon\n    message: m\n    expires: tomorrow\n", knowledge.LearnedFixesKey: exampleLearnedFixes},
			`entry "soon" skipped: expires: "tomorrow" is not an RFC 3339 time`, 1},
		{"oversized store", map[string]string{knowledge.KnownIssuesKey: "version: 1\nissues: []\n# " + strings.Repeat("x", knowledge.MaxStoreBytes), knowledge.LearnedFixesKey: exampleLearnedFixes},
			`known-issues.yaml: the store is over 262144 bytes with this key`, 1},
		{"not YAML", map[string]string{knowledge.KnownIssuesKey: "version: 1\nissues: [\n", knowledge.LearnedFixesKey: exampleLearnedFixes},
			`known-issues.yaml: not valid YAML`, 1},
		{"duplicate key", map[string]string{knowledge.LearnedFixesKey: "version: 1\nversion: 1\nfixes: []\n"},
			`key "version" defined twice`, 0},
		{"alias bomb", map[string]string{knowledge.LearnedFixesKey: aliasBomb()},
			`expands to more than`, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, warns := Parse(tt.data)
			require.Len(t, warns, 1, "%v", warns)
			assert.Contains(t, warns[0].String(), tt.warn)
			assert.Len(t, s.LearnedFixes, tt.used)
		})
	}
}

func aliasBomb() string {
	var b strings.Builder
	b.WriteString("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i < 9; i++ {
		b.WriteString("a" + string(rune('0'+i)) + ": &a" + string(rune('0'+i)) + " [")
		for j := 0; j < 10; j++ {
			if j > 0 {
				b.WriteString(", ")
			}
			b.WriteString("*a" + string(rune('0'+i-1)))
		}
		b.WriteString("]\n")
	}
	return b.String()
}

func TestWithFix(t *testing.T) {
	fix := knowledge.LearnedFix{Match: knowledge.Match{Step: "create-release", Fingerprint: "0123456789ab"}, Cause: "a GC'd blob", Fix: "re-run the build", By: "bob", Added: "2026-03-02"}
	doc, replaced, err := withFix(exampleLearnedFixes+"  - id: broken\n    match: {}\n    cause: c\n    fix: f\n", fix)
	require.NoError(t, err)
	assert.False(t, replaced)
	assert.Contains(t, doc, "# taught by the team", "comments stay")
	assert.Contains(t, doc, "id: broken", "entries the steps skip stay too: teaching changes nothing else")
	s, warns := Parse(map[string]string{knowledge.LearnedFixesKey: doc})
	require.Len(t, warns, 1)
	require.Len(t, s.LearnedFixes, 2)
	assert.Equal(t, fix, s.LearnedFixes[0], "the new entry comes first")
	assert.Equal(t, "vpn", s.LearnedFixes[1].ID)

	fix.Cause = "taught again"
	doc, replaced, err = withFix(doc, fix)
	require.NoError(t, err)
	assert.True(t, replaced)
	s, _ = Parse(map[string]string{knowledge.LearnedFixesKey: doc})
	require.Len(t, s.LearnedFixes, 2, "the entry for the same fingerprint is replaced")
	assert.Equal(t, "taught again", s.LearnedFixes[0].Cause)

	doc, _, err = withFix("", fix)
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(doc, "version: 1\nfixes:\n  - match:\n"), doc)
	s, warns = Parse(map[string]string{knowledge.LearnedFixesKey: doc + "  - id: by-hand\n    match: {step: x}\n    cause: c\n    fix: f\n"})
	assert.Empty(t, warns, "an entry added by hand, indented as the README shows, lines up")
	assert.Len(t, s.LearnedFixes, 2)

	for _, bad := range []string{"version: 2\nfixes: []\n", "fixes: {}\n", "[1, 2]\n", "fixes: [\n"} {
		_, _, err := withFix(bad, fix)
		assert.Error(t, err, bad)
	}
	assert.ErrorContains(t, validate(knowledge.LearnedFix{Match: knowledge.Match{Step: "x"}, Cause: "c"}), "fix is missing")
}

// TestParseFailsClosedOnKnownIssues: what hides a known issue is a MayBlock warning (the gate
// fails closed); an archive key neither uses up the byte budget nor is parsed.
func TestParseFailsClosedOnKnownIssues(t *testing.T) {
	freeze := "version: 1\nissues:\n  - id: freeze\n    message: release freeze\n    blocks: true\n"
	tests := []struct {
		name     string
		data     map[string]string
		warn     string
		mayBlock bool
		blocking int // active blocking issues read
	}{
		{"unquoted colon", map[string]string{knowledge.KnownIssuesKey: "version: 1\nissues:\n  - id: freeze\n    message: freeze: no releases\n    blocks: true\n"},
			`known-issues.yaml: not valid YAML`, true, 0},
		{"blocks: yes", map[string]string{knowledge.KnownIssuesKey: "version: 1\nissues:\n  - id: freeze\n    message: m\n    blocks: yes\n"},
			`entry "freeze" skipped: blocks is not true or false`, true, 0},
		{"misspelt blocks", map[string]string{knowledge.KnownIssuesKey: "version: 1\nissues:\n  - id: freeze\n    message: m\n    blokcs: true\n"},
			`entry "freeze" skipped: unknown field "blokcs"`, true, 0},
		{"known issues over the budget", map[string]string{knowledge.KnownIssuesKey: freeze + "# " + strings.Repeat("x", knowledge.MaxStoreBytes)},
			`known-issues.yaml: the store is over 262144 bytes`, true, 0},
		{"an archive key does not use the budget up", map[string]string{"archive.yaml": "[" + strings.Repeat("x", knowledge.MaxStoreBytes-10), knowledge.KnownIssuesKey: freeze},
			`archive.yaml: unknown key: ignored`, false, 1},
		{"learned fixes over the budget do not block", map[string]string{knowledge.KnownIssuesKey: freeze, knowledge.LearnedFixesKey: "version: 1\n# " + strings.Repeat("x", knowledge.MaxStoreBytes)},
			`learned-fixes.yaml: the store is over 262144 bytes`, false, 1},
		{"learned fixes not YAML do not block", map[string]string{knowledge.KnownIssuesKey: freeze, knowledge.LearnedFixesKey: "fixes: ["},
			`learned-fixes.yaml: not valid YAML`, false, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, warns := Parse(tt.data)
			require.Len(t, warns, 1, "%v", warns)
			assert.Contains(t, warns[0].String(), tt.warn)
			assert.Equal(t, tt.mayBlock, warns[0].MayBlock)
			blocking := 0
			for _, k := range s.KnownIssues {
				if k.Blocks {
					blocking++
				}
			}
			assert.Equal(t, tt.blocking, blocking)
		})
	}
}

// TestTeachBoundsPatterns: teaching refuses a pattern over the complexity budget, and one that
// would bring the store's patterns over their budget together (pushing earlier entries out).
func TestTeachBoundsPatterns(t *testing.T) {
	hostile := strings.Repeat("[^!]{0,999}", 22) + "!"
	assert.ErrorContains(t, validate(knowledge.LearnedFix{Match: knowledge.Match{Pattern: hostile}, Cause: "c", Fix: "f"}), "pattern is too complex: a repeat count of 999")
	big := strings.Repeat("[^!]{0,24}", 3) + "!" // about 160 instructions
	n, err := knowledge.PatternCost(big)
	require.NoError(t, err)
	var doc strings.Builder
	doc.WriteString("version: 1\nfixes:\n")
	for i := range knowledge.MaxStorePrograms / n {
		fmt.Fprintf(&doc, "  - id: f%d\n    match: {pattern: '(?:%d)?%s'}\n    cause: c\n    fix: f\n", i, i, big)
	}
	_, warns := Parse(map[string]string{knowledge.LearnedFixesKey: doc.String()})
	require.Empty(t, warns, "the store is within its budget")
	after, _, err := withFix(doc.String(), knowledge.LearnedFix{Match: knowledge.Match{Pattern: big}, Cause: "c", Fix: "f"})
	require.NoError(t, err)
	assert.ErrorContains(t, withinPatternBudget(doc.String(), after), "over their limit of 1000 regexp instructions together")
	after, _, err = withFix(doc.String(), knowledge.LearnedFix{Match: knowledge.Match{Pattern: "i/o timeout"}, Cause: "c", Fix: "f"})
	require.NoError(t, err)
	assert.NoError(t, withinPatternBudget(doc.String(), after), "a small pattern still fits")
}
