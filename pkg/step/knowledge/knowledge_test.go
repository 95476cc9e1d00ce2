package knowledge

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/release-to-prod/release-to-prod/pkg/step/failure"
)

func fixes(entries ...any) map[string]any {
	return map[string]any{LearnedFixesKey: map[string]any{"version": 1, "fixes": entries}}
}

func issues(entries ...any) map[string]any {
	return map[string]any{KnownIssuesKey: map[string]any{"version": 1, "issues": entries}}
}

func TestDecodeSkipsBadEntries(t *testing.T) {
	good := map[string]any{"id": "good", "match": map[string]any{"step": "check-image"}, "cause": "c", "fix": "f"}
	tests := []struct {
		name  string
		bad   map[string]any
		warns string
	}{
		{"unknown field", map[string]any{"id": "typo", "match": map[string]any{"step": "x"}, "cause": "c", "fix": "f", "replcae": true}, `entry "typo" skipped: unknown field "replcae"`},
		{"unknown match field", map[string]any{"id": "m", "match": map[string]any{"stpe": "x"}, "cause": "c", "fix": "f"}, `entry "m" skipped: match: unknown field "stpe"`},
		{"invalid regexp", map[string]any{"id": "re", "match": map[string]any{"pattern": "dial (tcp"}, "cause": "c", "fix": "f"}, `entry "re" skipped: match: pattern is not a valid regexp`},
		{"empty match", map[string]any{"id": "all", "match": map[string]any{}, "cause": "c", "fix": "f"}, `entry "all" skipped: match is empty`},
		{"no cause", map[string]any{"id": "nc", "match": map[string]any{"step": "x"}, "fix": "f"}, `entry "nc" skipped: cause is missing`},
		{"oversized cause", map[string]any{"id": "big", "match": map[string]any{"step": "x"}, "cause": strings.Repeat("x", MaxText+1), "fix": "f"}, `entry "big" skipped: cause is 501 bytes long`},
		{"bad status", map[string]any{"id": "st", "match": map[string]any{"status": 42}, "cause": "c", "fix": "f"}, `entry "st" skipped: match: status 42 is not an HTTP status`},
		{"status not a number", map[string]any{"id": "sn", "match": map[string]any{"status": "five"}, "cause": "c", "fix": "f"}, `entry "sn" skipped: match: status: five is not a number`},
		{"bad added", map[string]any{"id": "ad", "match": map[string]any{"step": "x"}, "cause": "c", "fix": "f", "added": "yesterday"}, `entry "ad" skipped: added: "yesterday" is not`},
		{"not a mapping", nil, `entry #1 skipped: not a mapping`},
		{"duplicate id", map[string]any{"id": "good", "match": map[string]any{"step": "y"}, "cause": "c", "fix": "f"}, `entry "good" skipped: id "good" is used by an earlier entry`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var bad any = tt.bad
			if tt.bad == nil {
				bad = "just text"
			}
			entries := []any{bad, good}
			if tt.name == "duplicate id" {
				entries = []any{good, bad}
			}
			s, warns := Decode(fixes(entries...))
			require.Len(t, warns, 1)
			assert.Contains(t, warns[0].String(), tt.warns)
			require.Len(t, s.LearnedFixes, 1, "the rest is used")
			assert.Equal(t, "good", s.LearnedFixes[0].ID)
		})
	}
}

func TestDecodeKnownIssues(t *testing.T) {
	s, warns := Decode(issues(
		map[string]any{"id": "quay", "service": "quay", "message": "scans delayed", "expires": "2026-03-05"},
		map[string]any{"id": "expired", "message": "old", "expires": "2026-03-01T00:00:00Z"},
		map[string]any{"id": "block", "service": "konflux", "message": "freeze", "blocks": true},
		map[string]any{"id": "bad-expiry", "message": "m", "expires": "next week"},
		map[string]any{"id": "bad-service", "service": "jira", "message": "m"},
		map[string]any{"id": "bad-blocks", "message": "m", "blocks": "yes"},
		map[string]any{"id": "no-message", "service": "quay"},
	))
	var got []string
	for _, w := range warns {
		got = append(got, w.String())
	}
	assert.Equal(t, []string{
		`known-issues.yaml: entry "bad-expiry" skipped: expires: "next week" is not an RFC 3339 time (2026-03-05T18:00:00Z) or a date (2026-03-05)`,
		`known-issues.yaml: entry "bad-service" skipped: service "jira" is not one of konflux, quay, alertmanager, app-interface, slack, any`,
		`known-issues.yaml: entry "bad-blocks" skipped: blocks is not true or false`,
		`known-issues.yaml: entry "no-message" skipped: message is missing`,
	}, got)
	require.Len(t, s.KnownIssues, 3)
	assert.Equal(t, "any", s.KnownIssues[1].Service, "the default service")
	now := time.Date(2026, 3, 5, 23, 0, 0, 0, time.UTC)
	var active []string
	for _, k := range s.Active(now) {
		active = append(active, k.ID)
	}
	assert.Equal(t, []string{"quay", "block"}, active, "a date expires at the end of that day; the expired one is not active")
	assert.Len(t, s.Active(now.Add(2*time.Hour)), 1)
}

func TestDecodeDocumentLevel(t *testing.T) {
	tests := []struct {
		name  string
		docs  map[string]any
		warns []string
	}{
		{"other version", map[string]any{LearnedFixesKey: map[string]any{"version": 2, "fixes": []any{}}}, []string{"version 2 is not 1"}},
		{"no version", map[string]any{KnownIssuesKey: map[string]any{"issues": []any{}}}, []string{"no version: read as version 1"}},
		{"unknown key", map[string]any{"gotchas.yaml": "x"}, []string{"gotchas.yaml: unknown key"}},
		{"unknown field", map[string]any{KnownIssuesKey: map[string]any{"version": 1, "isues": []any{}}}, []string{`unknown field "isues"`}},
		{"not a list", map[string]any{KnownIssuesKey: map[string]any{"version": 1, "issues": "none"}}, []string{"issues is not a list"}},
		{"not a mapping", map[string]any{KnownIssuesKey: []any{}}, []string{"not a mapping with version and issues"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, warns := Decode(tt.docs)
			require.Len(t, warns, len(tt.warns))
			for i, w := range tt.warns {
				assert.Contains(t, warns[i].String(), w)
			}
		})
	}
}

func TestDecodeBoundsTheEntries(t *testing.T) {
	var list []any
	for i := range MaxKnownIssues + 5 {
		list = append(list, map[string]any{"id": fmt.Sprintf("i%d", i), "message": "m"})
	}
	s, warns := Decode(issues(list...))
	assert.Len(t, s.KnownIssues, MaxKnownIssues)
	require.Len(t, warns, 1)
	assert.Equal(t, `known-issues.yaml: entry "i50" skipped: over the limit of 50 entries that have not expired (and 4 more after it)`, warns[0].String())
	assert.False(t, warns[0].MayBlock, "none of them blocks")
}

func TestLookup(t *testing.T) {
	unknown := errors.New("pulling the bundle: blob unknown to registry: sha256:" + strings.Repeat("a", 64))
	net503 := fmt.Errorf("checking: %w", &failure.HTTPStatusError{Service: "Quay", Method: "GET", URL: "https://quay.io/x", Code: 503})
	fp := Fingerprint(FailureOf("create-release", unknown))
	s, warns := Decode(fixes(
		map[string]any{"id": "by-fingerprint", "match": map[string]any{"fingerprint": fp}, "cause": "a GC'd blob", "fix": "re-run the build", "by": "alice"},
		map[string]any{"id": "by-status", "match": map[string]any{"status": 503, "step": "check-vulnerabilities"}, "cause": "Quay maintenance", "fix": "wait", "replace": true},
		map[string]any{"id": "by-pattern", "match": map[string]any{"pattern": `blob unknown`}, "cause": "broad", "fix": "broad"},
		map[string]any{"id": "by-failure", "match": map[string]any{"failure": "server-error"}, "cause": "any 5xx", "fix": "retry"},
	))
	require.Empty(t, warns)
	tests := []struct {
		name, step string
		err        error
		want       string
	}{
		{"fingerprint first", "create-release", unknown, "by-fingerprint"},
		{"same failure in another step: pattern", "check-image", unknown, "by-pattern"},
		{"status and step", "check-vulnerabilities", net503, "by-status"},
		{"status in another step: failure id", "check-image", net503, "by-failure"},
		{"nothing", "check-image", errors.New("boom"), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := Explain(tt.step, tt.err, s)
			if tt.want == "" {
				assert.Nil(t, e.Team)
				assert.False(t, e.Known())
				return
			}
			require.NotNil(t, e.Team)
			assert.Equal(t, tt.want, e.Team.ID)
		})
	}
}

func TestExplanationText(t *testing.T) {
	s, _ := Decode(fixes(
		map[string]any{"match": map[string]any{"failure": "server-error"}, "cause": "Quay maintenance", "fix": "wait an hour", "by": "alice"},
		map[string]any{"match": map[string]any{"failure": "image-not-found"}, "cause": "the build is slow today", "fix": "wait", "replace": true},
	))
	s.Namespace, s.ConfigMap = "tenant", "release-knowledge"
	added := Explain("check-vulnerabilities", &failure.HTTPStatusError{Service: "Quay", Code: 502}, s)
	assert.Equal(t, "Quay kept answering with server errors after the retries; team knowledge, by alice: Quay maintenance", added.Cause())
	assert.Equal(t, "check the service's status page or on-call; re-run when it is healthy; team knowledge, by alice: wait an hour", added.Fix())
	assert.Equal(t, "from the team knowledge store (ConfigMap release-knowledge in tenant), by alice", added.TeamSource())
	replaced := Explain("check-image", failure.New(failure.ImageNotFound, nil, "no image"), s)
	assert.Equal(t, "the build is slow today [team knowledge]", replaced.Cause())
	builtin := Explain("check-image", failure.New(failure.Network, nil, "no route"), s)
	assert.Nil(t, builtin.Team)
	assert.NotContains(t, builtin.Cause(), "team")
}

func TestFingerprintIsStable(t *testing.T) {
	same := []string{
		`Release tenant/release-to-prod-x7k2p: create: admission webhook "release.appstudio" denied: snapshot snap-1a2b3c4 of commit 0123456789abcdef0123456789abcdef01234567 at 2026-03-01T10:00:00Z`,
		`Release tenant/release-to-prod-b9qzt: create: admission webhook "other" denied: snapshot snap-9f8e7d6 of commit fedcba9876543210fedcba9876543210fedcba98 at 2026-04-11T23:59:59.123+02:00`,
	}
	assert.Equal(t, Normalise(same[0]), Normalise(same[1]))
	a := Fingerprint(Failure{Step: "create-release", ID: UnknownID, Message: same[0]})
	b := Fingerprint(Failure{Step: "create-release", ID: UnknownID, Message: same[1]})
	assert.Equal(t, a, b)
	assert.True(t, IsFingerprint(a), a)
	assert.NotEqual(t, a, Fingerprint(Failure{Step: "check-image", ID: UnknownID, Message: same[0]}), "the step counts")
	assert.NotEqual(t, a, Fingerprint(Failure{Step: "create-release", ID: "network", Message: same[0]}), "the failure id counts")
	assert.NotEqual(t, a, Fingerprint(Failure{Step: "create-release", ID: UnknownID, Message: "something else"}), "the message counts")

	for in, want := range map[string]string{
		"GET https://quay.io/api/v1/x?y=1: 503":             "GET <url> <n>",
		"dial tcp 10.0.0.1:443: connect: refused":           "dial tcp <name>:<n>: connect: refused",
		"digest sha256:" + strings.Repeat("0f", 32) + " ok": "digest <digest> ok",
		"the deadbeef and the feedface stay":                "the deadbeef and the feedface stay",
		"pod release-to-prod-run-42 and rtp-xkcdq failed":   "pod <name> and <name> failed",
		"mail bob@example.com":                              "mail <email>",
	} {
		assert.Equal(t, want, Normalise(in), in)
	}
}

func TestText(t *testing.T) {
	for in, want := range map[string]string{
		"*bold* _it_ ~gone~ `code`":            "∗bold∗ ＿it＿ ∼gone∼ 'code'",
		"set release_plan":                     "set release_plan",
		"red \x1b[31mtext\x1b[0m":              "red [31mtext [0m",
		"two\nlines\r\tand\u202eRLO":           "two lines and RLO",
		"bad \xff utf8":                        "bad \uFFFD utf8",
		"  spaced   out ":                      "spaced out",
		"<!channel> stays for slack to escape": "<!channel> stays for slack to escape",
	} {
		assert.Equal(t, want, Text(in, 200), in)
	}
	long := Text(strings.Repeat("é", 300), 100)
	assert.LessOrEqual(t, len(long), 100)
	assert.True(t, strings.HasSuffix(long, "…"))
}

func TestFileRoundTrip(t *testing.T) {
	s, warns := Decode(map[string]any{
		KnownIssuesKey:  map[string]any{"version": 1, "issues": []any{map[string]any{"id": "q", "service": "quay", "message": "slow", "expires": "2030-01-01", "blocks": true}}},
		LearnedFixesKey: map[string]any{"version": 1, "fixes": []any{map[string]any{"match": map[string]any{"status": 503, "pattern": "a.*b"}, "cause": "c", "fix": "f"}}},
	})
	require.Empty(t, warns)
	s.Namespace, s.ConfigMap, s.Found = "tenant", "release-knowledge", true
	path := filepath.Join(t.TempDir(), "sub", "knowledge.json")
	require.NoError(t, WriteFile(path, s))
	got, warns, err := ReadFile(path)
	require.NoError(t, err)
	assert.Empty(t, warns)
	assert.Equal(t, s.KnownIssues, got.KnownIssues)
	assert.Equal(t, s.LearnedFixes, got.LearnedFixes)
	assert.Equal(t, "tenant", got.Namespace)
	assert.True(t, got.Found)
	_, ok := got.Lookup(Failure{Step: "x", Status: 503, Message: "a and b"})
	assert.True(t, ok, "patterns compiled after reading")

	_, _, err = ReadFile(filepath.Join(t.TempDir(), "missing"))
	assert.True(t, errors.Is(err, os.ErrNotExist))
	bad := filepath.Join(t.TempDir(), "bad")
	require.NoError(t, os.WriteFile(bad, []byte("{"), 0o644))
	_, _, err = ReadFile(bad)
	assert.ErrorContains(t, err, "not the JSON check-known-issues writes")
}

func TestUnmatchedResult(t *testing.T) {
	var list []Unmatched
	for i := range 5 {
		list = append(list, Unmatched{Step: fmt.Sprintf("step-%d", i), ID: UnknownID, Fingerprint: "0123456789ab", Message: strings.Repeat("m", 400)})
	}
	for _, max := range []int{2000, 600, 150} {
		s := EncodeUnmatched(list, max)
		assert.LessOrEqual(t, len(s), max)
		got, err := DecodeUnmatched(s)
		require.NoError(t, err)
		assert.NotEmpty(t, got, "at least one entry fits in %d bytes", max)
		assert.Equal(t, "step-0", got[0].Step)
	}
	assert.Equal(t, "", EncodeUnmatched(nil, 600))
	got, err := DecodeUnmatched("")
	assert.NoError(t, err)
	assert.Empty(t, got)
	_, err = DecodeUnmatched("nope")
	assert.Error(t, err)
}

// TestDecodeMayBlock: a known-issues entry or key that is skipped is marked MayBlock unless it
// says blocks: false, so that the gate fails closed; a skipped learned fix never is.
func TestDecodeMayBlock(t *testing.T) {
	tests := []struct {
		name     string
		docs     map[string]any
		warn     string
		mayBlock bool
	}{
		{"blocks: yes (text)", issues(map[string]any{"id": "freeze", "message": "m", "blocks": "yes"}), `entry "freeze" skipped: blocks is not true or false`, true},
		{"blocks: 'true' (text)", issues(map[string]any{"id": "freeze", "message": "m", "blocks": "true"}), `blocks is not true or false`, true},
		{"blocks: 1", issues(map[string]any{"id": "freeze", "message": "m", "blocks": int64(1)}), `blocks is not true or false`, true},
		{"misspelt key", issues(map[string]any{"id": "freeze", "message": "m", "block": true}), `unknown field "block"`, true},
		{"bad entry without blocks", issues(map[string]any{"id": "x", "message": "m", "expires": "soon"}), `expires: "soon"`, true},
		{"not a mapping", issues("freeze"), `entry #1 skipped: not a mapping`, true},
		{"bad entry with blocks: false", issues(map[string]any{"id": "x", "message": "m", "expires": "soon", "blocks": false}), `expires: "soon"`, false},
		{"misspelt list", map[string]any{KnownIssuesKey: map[string]any{"version": 1, "isues": []any{}}}, `unknown field "isues"`, true},
		{"other version", map[string]any{KnownIssuesKey: map[string]any{"version": 2, "issues": []any{}}}, `version 2 is not 1`, true},
		{"not a list", map[string]any{KnownIssuesKey: map[string]any{"version": 1, "issues": "freeze"}}, `issues is not a list`, true},
		{"not a document", map[string]any{KnownIssuesKey: "freeze"}, `not a mapping`, true},
		{"a learned fix never blocks", fixes(map[string]any{"id": "x", "match": map[string]any{}, "cause": "c", "fix": "f"}), `match is empty`, false},
		{"nor a key of them", map[string]any{LearnedFixesKey: map[string]any{"version": 2}}, `version 2 is not 1`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, warns := Decode(tt.docs)
			require.Len(t, warns, 1, "%v", warns)
			assert.Contains(t, warns[0].String(), tt.warn)
			assert.Equal(t, tt.mayBlock, warns[0].MayBlock)
		})
	}
}

// TestExpiredIssuesDoNotCountTowardTheLimit: 50 expired entries before a blocking one do not
// hide it; an active blocking entry over the limit is a MayBlock warning, not silence.
func TestExpiredIssuesDoNotCountTowardTheLimit(t *testing.T) {
	now := time.Date(2026, 3, 5, 12, 0, 0, 0, time.UTC)
	var list []any
	for i := range 2 * MaxKnownIssues {
		list = append(list, map[string]any{"id": fmt.Sprintf("old-%d", i), "message": "m", "expires": "2026-01-01"})
	}
	list = append(list, map[string]any{"id": "freeze", "message": "release freeze", "blocks": true})
	s, warns := DecodeAt(issues(list...), now)
	assert.Empty(t, warns)
	active := s.Active(now)
	require.Len(t, active, 1)
	assert.True(t, active[0].Blocks)

	list = list[:0]
	for i := range MaxKnownIssues + 3 {
		list = append(list, map[string]any{"id": fmt.Sprintf("i%d", i), "message": "m"})
	}
	list = append(list, map[string]any{"id": "late-freeze", "message": "release freeze", "blocks": true})
	s, warns = DecodeAt(issues(list...), now)
	assert.Len(t, s.KnownIssues, MaxKnownIssues)
	var got []string
	for _, w := range warns {
		got = append(got, fmt.Sprintf("%v %s", w.MayBlock, w))
	}
	assert.Equal(t, []string{
		`true known-issues.yaml: entry "late-freeze" skipped: over the limit of 50 entries that have not expired, and it blocks releases`,
		`false known-issues.yaml: entry "i50" skipped: over the limit of 50 entries that have not expired (and 2 more after it)`,
	}, got)
}
