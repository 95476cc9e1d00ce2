package knowledge

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// FuzzNormalise: the fingerprint of any message is a fingerprint, , and a message
// whose numbers change keeps its fingerprint.
func FuzzNormalise(f *testing.F) {
	f.Add("dial tcp 10.0.0.1:443: connect: connection refused")
	f.Add(`Release "release-to-prod-x7k2p" at 2026-03-01T10:00:00Z: sha256:` + strings.Repeat("ab", 32))
	f.Fuzz(func(t *testing.T, msg string) {
		fp := Fingerprint(Failure{Step: "s", Message: msg})
		if !IsFingerprint(fp) {
			t.Fatalf("fingerprint %q", fp)
		}
		// The same failure with other numbers (ports, counts, SHAs, times) has the same
		// fingerprint. ("sha256:" names an algorithm, not a number that varies.)
		if utf8.ValidString(msg) && !strings.Contains(strings.ToLower(msg), "sha") {
			shifted := strings.Map(func(r rune) rune {
				if r >= '0' && r <= '9' {
					return '0' + (r-'0'+1)%10
				}
				return r
			}, msg)
			if Normalise(shifted) != Normalise(msg) {
				t.Fatalf("%q and %q normalise differently: %q, %q", msg, shifted, Normalise(msg), Normalise(shifted))
			}
		}
	})
}

// FuzzText: the output is plain whatever the input: no control or format characters, no Slack
// formatting marks, one line, within the bound.
func FuzzText(f *testing.F) {
	f.Add("*bold* _x_ ~s~ `c` \x1b[31m\u202e\n")
	f.Fuzz(func(t *testing.T, s string) {
		out := Text(s, 100)
		if len(out) > 100 {
			t.Fatalf("%d bytes", len(out))
		}
		for _, r := range out {
			if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || strings.ContainsRune("*~`\n", r) {
				t.Fatalf("%q in %q", r, out)
			}
		}
	})
}
