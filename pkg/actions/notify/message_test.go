package notify

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/release-to-prod/release-to-prod/pkg/step/outcome"
)

const testSHA = "0123456789abcdef0123456789abcdef01234567"

func fullNotification(o Outcome) Notification {
	return Notification{
		Outcome:        o,
		Component:      "automation-analytics-backend-main",
		Application:    "automation-analytics",
		Namespace:      "aap-tenant",
		Release:        "rtp-0123456-prod",
		CommitSHA:      testSHA,
		CommitURL:      "https://github.com/org/repo/commit/" + testSHA,
		ImageDigest:    "sha256:" + strings.Repeat("ab", 32),
		GateSummary:    "image ✓, konflux ✓, alerts ✗",
		FailureCause:   "2 alerts firing in production",
		FailureFix:     "silence or resolve them, then re-run",
		PipelineRunURL: "https://console.example.com/k8s/ns/aap-tenant/tekton.dev~v1~PipelineRun/rtp-abc",
	}
}

// roundTrip encodes m as it is posted and decodes it strictly into the package's structs.
func roundTrip(t *testing.T, m Message) Message {
	t.Helper()
	b, err := json.Marshal(m)
	require.NoError(t, err)
	return decodeStrict(t, b)
}

func fieldTexts(m Message) string {
	var b strings.Builder
	for _, bl := range m.Blocks {
		for _, f := range bl.Fields {
			b.WriteString(f.Text + "\n")
		}
	}
	return b.String()
}

func TestBuildVariants(t *testing.T) {
	tests := []struct {
		outcome    Outcome
		variant    string
		header     string
		fallback   string
		hasFailure bool
	}{
		{outcome.Released, "success", ":rocket: Released automation-analytics-backend-main", "Released automation-analytics-backend-main (commit 0123456)", false},
		{outcome.NothingToRelease, "success", ":white_check_mark: Already released: automation-analytics-backend-main", "Already released", false},
		{outcome.DryRunPassed, "dry-run", ":test_tube: Dry run passed: automation-analytics-backend-main", "Dry run passed", false},
		{outcome.BlockedByGate, "failure", ":x: Release blocked: automation-analytics-backend-main", "Release blocked: automation-analytics-backend-main (commit 0123456): 2 alerts firing in production", true},
		{outcome.DryRunWouldBlock, "failure", ":x: Dry run blocked: automation-analytics-backend-main", "Dry run blocked", true},
		{outcome.ReleaseFailed, "failure", ":x: Release failed: automation-analytics-backend-main", "Release failed", true},
		{outcome.NotReleased, "failure", ":warning: Not released: automation-analytics-backend-main", "Not released", true},
		{outcome.ReleaseCreated, "pending", ":hourglass_flowing_sand: Release created: automation-analytics-backend-main", "Release created", false},
		{outcome.ReleaseDoubtful, "failure", ":rotating_light: Release doubtful, may be in production: automation-analytics-backend-main", "Release doubtful, may be in production", true},
	}
	for _, tt := range tests {
		t.Run(tt.outcome.String(), func(t *testing.T) {
			assert.Equal(t, tt.variant, tt.outcome.Variant())
			m := roundTrip(t, Build(fullNotification(tt.outcome)))
			require.NoError(t, m.Validate())
			require.NotEmpty(t, m.Blocks)
			assert.Equal(t, TypeHeader, m.Blocks[0].Type)
			assert.Equal(t, "plain_text", m.Blocks[0].Text.Type)
			assert.Equal(t, tt.header, m.Blocks[0].Text.Text)
			assert.True(t, strings.HasPrefix(m.Text, tt.fallback), m.Text)

			fields := fieldTexts(m)
			for _, want := range []string{
				"*Component*\nautomation-analytics-backend-main",
				"*Application*\n`automation-analytics`",
				"*Namespace*\n`aap-tenant`",
				"*Release*\n`rtp-0123456-prod`",
				"*Commit*\n<https://github.com/org/repo/commit/" + testSHA + "|0123456>",
			} {
				assert.Contains(t, fields, want)
			}
			texts := strings.Join(allTexts(m), "\n")
			assert.Contains(t, texts, "*Image*\n`sha256:abab")
			assert.Contains(t, texts, "*Gates*\nimage ✓, konflux ✓, alerts ✗")
			assert.Contains(t, texts, "<https://console.example.com/k8s/ns/aap-tenant/tekton.dev~v1~PipelineRun/rtp-abc|View the PipelineRun>")
			if tt.hasFailure {
				assert.Contains(t, texts, "*Cause*\n2 alerts firing in production")
				assert.Contains(t, texts, "*Fix*\nsilence or resolve them, then re-run")
			} else {
				assert.NotContains(t, texts, "*Cause*")
			}
			for _, b := range m.Blocks {
				for _, tx := range append(append([]Text{}, b.Fields...), b.Elements...) {
					assert.True(t, tx.Verbatim, "mrkdwn with pipeline values must be verbatim")
				}
			}
		})
	}
}

func TestBuildMinimal(t *testing.T) {
	m := roundTrip(t, Build(Notification{Outcome: outcome.BlockedByGate}))
	require.NoError(t, m.Validate())
	assert.Equal(t, ":x: Release blocked: release-to-prod", m.Blocks[0].Text.Text)
	texts := strings.Join(allTexts(m), "\n")
	assert.Contains(t, texts, "*Cause*\na gate found a problem")
	assert.NotContains(t, texts, "*Commit*")
	assert.NotContains(t, texts, "PipelineRun>")
	assert.Equal(t, "Release blocked: release-to-prod", m.Text)
}

func TestBuildCommit(t *testing.T) {
	tests := []struct {
		name, sha, url, want string
	}{
		{"no link", testSHA, "", "*Commit*\n`0123456`"},
		{"upper case SHA", strings.ToUpper(testSHA), "", "*Commit*\n`0123456`"},
		{"short SHA shown quoted", "0123456", "", "*Commit*\n`\"0123456\"` (not a commit SHA)"},
		{"hostile SHA", "<!channel>", "", "*Commit*\n`\"&lt;!channel&gt;\"` (not a commit SHA)"},
		{"bad URL", testSHA, "javascript:alert(1)", "*Commit*\n`0123456` (commit URL not usable)"},
		{"URL with link breakers", testSHA, "https://x.example/c?a=1&b=<2>|x", "*Commit*\n<https://x.example/c?a=1&amp;b=%3C2%3E%7Cx|0123456>"},
		{"URL user info dropped", testSHA, "https://user:pw@x.example/c", "*Commit*\n<https://x.example/c|0123456>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := roundTrip(t, Build(Notification{Outcome: outcome.Released, CommitSHA: tt.sha, CommitURL: tt.url}))
			require.NoError(t, m.Validate())
			assert.Contains(t, fieldTexts(m), tt.want)
		})
	}
}

func TestBuildEscapesHostileValues(t *testing.T) {
	hostile := []string{"<!channel>", "<http://evil|x>", "a & b", "<@U123>", "<!date^1^{date}|x>", "@here @Channel @everyone"}
	n := Notification{Outcome: outcome.BlockedByGate, CommitSHA: testSHA}
	all := strings.Join(hostile, " ")
	n.Component, n.Application, n.Namespace, n.Release = all, all, all, all
	n.ImageDigest, n.GateSummary, n.FailureCause, n.FailureFix, n.Note = all, all, all, all, all
	n.PipelineRunURL = "<http://evil|x>"
	m := roundTrip(t, Build(n))
	require.NoError(t, m.Validate())
	for _, tx := range allTexts(m) {
		for _, h := range []string{"<!", "<@", "<http://evil", "@here", "@Channel", "@everyone"} {
			assert.NotContains(t, tx, h, "in %q", tx)
		}
		// Every & left is the start of one of the three entities.
		for i := strings.IndexByte(tx, '&'); i >= 0; i = next(tx, i) {
			rest := tx[i:]
			assert.True(t, strings.HasPrefix(rest, "&amp;") || strings.HasPrefix(rest, "&lt;") || strings.HasPrefix(rest, "&gt;"), "bare & in %q", tx)
		}
	}
	texts := strings.Join(allTexts(m), "\n")
	assert.Contains(t, texts, "&lt;!channel&gt;")
	assert.Contains(t, texts, "&lt;http://evil|x&gt;")
	assert.Contains(t, texts, "a &amp; b")
	// The only link in the message is none: the PipelineRun URL was not a URL.
	assert.NotContains(t, texts, "|View the PipelineRun>")
}

func next(s string, i int) int {
	j := strings.IndexByte(s[i+1:], '&')
	if j < 0 {
		return -1
	}
	return i + 1 + j
}

func TestBuildBoundsHugeValues(t *testing.T) {
	huge := strings.Repeat("&<>", 5000)
	lines := strings.Repeat("line\n", 500)
	n := Notification{Outcome: outcome.ReleaseFailed, Component: huge, Application: huge, Namespace: huge, Release: huge,
		CommitSHA: huge, CommitURL: "https://x.example/" + strings.Repeat("a", 5000), ImageDigest: huge,
		GateSummary: lines, FailureCause: huge + lines, FailureFix: lines + huge, PipelineRunURL: huge, Note: huge}
	m := roundTrip(t, Build(n))
	require.NoError(t, m.Validate())
	assert.Len(t, m.Blocks, 8, "header, fields, image, gates, divider, cause, fix, context")
	texts := strings.Join(allTexts(m), "\n")
	assert.Contains(t, texts, "… (489 more lines)")
	assert.Contains(t, texts, "…")
}

func TestTextOf(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		max      int
		lines    int
		want     string
		maxCount int
	}{
		{name: "plain", in: "abc", max: 10, lines: 1, want: "abc"},
		{name: "escaped", in: "a<b>&c", max: 100, lines: 1, want: "a&lt;b&gt;&amp;c"},
		{name: "cut before an entity", in: "aaaa&", max: 6, lines: 1, want: "aaaa…"},
		{name: "newlines folded", in: "a\nb\r\n\tc", max: 100, lines: 1, want: "a b c"},
		{name: "lines kept", in: "a\r\nb\n\n", max: 100, lines: 3, want: "a\nb"},
		{name: "lines bounded", in: "1\n2\n3\n4", max: 100, lines: 2, want: "1\n… (3 more lines)"},
		{name: "invalid UTF-8", in: "a\xffb", max: 100, lines: 1, want: "a\uFFFDb"},
		{name: "bidi override removed", in: "a\u202eb", max: 100, lines: 1, want: "a b"},
		{name: "mention word broken", in: "hi @here", max: 100, lines: 1, want: "hi @\u2060here"},
		{name: "astral counted twice", in: strings.Repeat("😀", 10), max: 7, lines: 1, want: "😀😀😀…"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := textOf(tt.in, tt.max, tt.lines)
			assert.Equal(t, tt.want, got)
			assert.LessOrEqual(t, Length(got), tt.max)
		})
	}
}

func TestValidate(t *testing.T) {
	ok := Build(Notification{Outcome: outcome.Released})
	require.NoError(t, ok.Validate())
	tests := []struct {
		name string
		edit func(*Message)
		want string
	}{
		{"no fallback", func(m *Message) { m.Text = "" }, "fallback"},
		{"too many blocks", func(m *Message) {
			for len(m.Blocks) <= MaxBlocks {
				m.Blocks = append(m.Blocks, Block{Type: TypeDivider})
			}
		}, "blocks"},
		{"long header", func(m *Message) { m.Blocks[0].Text.Text = strings.Repeat("x", 151) }, "limit 150"},
		{"long section", func(m *Message) { m.Blocks = append(m.Blocks, section(strings.Repeat("x", 3001))) }, "limit 3000"},
		{"mrkdwn header", func(m *Message) { m.Blocks[0].Text.Type = "mrkdwn" }, "plain_text"},
		{"unknown type", func(m *Message) { m.Blocks = append(m.Blocks, Block{Type: "image"}) }, "unknown"},
		{"empty context", func(m *Message) { m.Blocks = append(m.Blocks, Block{Type: TypeContext}) }, "elements"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := Build(Notification{Outcome: outcome.Released})
			tt.edit(&m)
			err := m.Validate()
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

// TestBuildKnownIssues: the team's known issues are shown in every variant, as plain text.
func TestBuildKnownIssues(t *testing.T) {
	for _, o := range []outcome.Outcome{outcome.Released, outcome.BlockedByGate, outcome.DryRunPassed} {
		m := Build(Notification{Outcome: o, Component: "c", KnownIssues: "quay: *scans* delayed <!channel>\n\nkonflux: _slow_ builds"})
		require.NoError(t, m.Validate())
		all := strings.Join(allTexts(m), "\n")
		assert.Contains(t, all, "*Known issues* (team knowledge store)\n• quay: ∗scans∗ delayed &lt;!channel&gt;\n• konflux: ＿slow＿ builds", o.String())
	}
	m := Build(Notification{Outcome: outcome.Released, Component: "c"})
	assert.NotContains(t, strings.Join(allTexts(m), "\n"), "Known issues", "no block without issues")
}
