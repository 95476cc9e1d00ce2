package notify

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/release-to-prod/release-to-prod/pkg/step/outcome"
)

// FuzzBuild feeds arbitrary strings to every value of a message: the result must always be
// JSON that decodes into the package's structs, within Slack's limits, and without a Slack
// control sequence (<…>) other than the links Build makes itself.
func FuzzBuild(f *testing.F) {
	f.Add(uint8(0), "comp", testSHA, "https://github.com/o/r/commit/x", "image ✓, alerts ✗", "cause\nline 2", "https://console/x", "Succeeded", "")
	f.Add(uint8(3), "<!channel>", "<http://evil|x>", "javascript:x", "&&&", "@here", "<@U1>", "Failed", "DryRun")
	f.Add(uint8(5), strings.Repeat("é", 3000), "\xff\xfe", "https://a/\u202e", strings.Repeat("x\n", 100), "\x00\x1b[31m", "http://[::1]:1/|>", "None", "TimedOut")
	f.Fuzz(func(t *testing.T, o uint8, component, sha, commitURL, gates, cause, runURL, status, release string) {
		result, note := outcome.Decide(status, release, o%2 == 1)
		if o%3 == 0 {
			result = outcome.Outcome(int(o) % outcome.Count)
		}
		n := Notification{Outcome: result, Note: note, ReleaseStatus: release, Component: component,
			Application: sha, Namespace: gates, Release: cause, CommitSHA: sha, CommitURL: commitURL,
			ImageDigest: runURL, GateSummary: gates, FailureCause: cause, FailureFix: component,
			PipelineRunURL: runURL}
		m := Build(n)
		if err := m.Validate(); err != nil {
			t.Fatalf("limits: %v", err)
		}
		b, err := json.Marshal(m)
		if err != nil || !json.Valid(b) {
			t.Fatalf("JSON: %v", err)
		}
		var back Message
		dec := json.NewDecoder(strings.NewReader(string(b)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&back); err != nil {
			t.Fatalf("decode: %v", err)
		}
		if err := back.Validate(); err != nil {
			t.Fatalf("limits after round trip: %v", err)
		}
		for _, tx := range allTexts(back) {
			for _, bad := range []string{"<!", "<@", "<#"} {
				if strings.Contains(tx, bad) {
					t.Fatalf("control sequence %q in %q", bad, tx)
				}
			}
			// Links are only "<http(s)://…|label>" with a label Build chose.
			rest := tx
			for {
				i := strings.IndexByte(rest, '<')
				if i < 0 {
					break
				}
				j := strings.IndexByte(rest[i:], '>')
				if j < 0 {
					t.Fatalf("unclosed < in %q", tx)
				}
				l := rest[i : i+j+1]
				if !(strings.HasPrefix(l, "<http://") || strings.HasPrefix(l, "<https://")) ||
					!(strings.HasSuffix(l, "|View the PipelineRun>") || strings.Count(l, "|") == 1 && len(l[strings.IndexByte(l, '|'):]) == 9) {
					t.Fatalf("unexpected link %q in %q", l, tx)
				}
				rest = rest[i+j+1:]
			}
		}
	})
}
