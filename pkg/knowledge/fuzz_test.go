package knowledge

import (
	"strings"
	"testing"
	"unicode"
)

// FuzzNormalise: the fingerprint of any message is a fingerprint, and the same message normalised
// twice gives the same text.
func FuzzNormalise(f *testing.F) {
	f.Add("dial tcp 10.0.0.1:443: connect: connection refused")
	f.Add(`Release "release-to-prod-x7k2p" at 2026-03-01T10:00:00Z: sha256:` + strings.Repeat("ab", 32))
	f.Fuzz(func(t *testing.T, msg string) {
		fp := Fingerprint(Failure{Step: "s", Message: msg})
		if !IsFingerprint(fp) {
			t.Fatalf("fingerprint %q", fp)
		}
		if Normalise(msg) != Normalise(msg) {
			t.Fatal("not deterministic")
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
