package store

import (
	"strings"
	"testing"

	"github.com/release-to-prod/release-to-prod/pkg/step/knowledge"
)

// FuzzParse feeds arbitrary YAML to the store parser: warnings are fine, panics are not, and
// whatever it keeps must survive the file round trip without new warnings.
func FuzzParse(f *testing.F) {
	f.Add(exampleKnownIssues, exampleLearnedFixes)
	f.Add("version: 1\nissues:\n  - message: &m x\n    by: *m\n", "version: 1\nfixes:\n  - match: {status: 0x1F5}\n    cause: c\n    fix: f\n")
	f.Add("", "fixes: [{match: {pattern: '\\\\'}, cause: c, fix: f}]")
	f.Add("", "version: 1\nfixes:\n  - match: {pattern: '"+strings.Repeat("[^!]{0,999}", 22)+"!'}\n    cause: c\n    fix: f\n  - match: {pattern: '[^!]{0,24}[^!]{0,24}!'}\n    cause: c\n    fix: f\n")
	f.Fuzz(func(t *testing.T, issues, fixes string) {
		s, _ := Parse(map[string]string{knowledge.KnownIssuesKey: issues, knowledge.LearnedFixesKey: fixes})
		path := t.TempDir() + "/k.json"
		if err := knowledge.WriteFile(path, s); err != nil {
			t.Fatal(err)
		}
		back, warns, err := knowledge.ReadFile(path)
		if err != nil || len(warns) > 0 {
			t.Fatalf("round trip: %v %v", err, warns)
		}
		if len(back.KnownIssues) != len(s.KnownIssues) || len(back.LearnedFixes) != len(s.LearnedFixes) {
			t.Fatalf("round trip lost entries")
		}
		for _, l := range s.LearnedFixes {
			s.Lookup(knowledge.Failure{Step: l.Match.Step, ID: l.Match.Failure, Status: l.Match.Status, Message: l.Cause})
		}
	})
}
