package step

import (
	"bytes"
	"strings"
	"testing"
	"unicode"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEscape(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"✓ image quay.io/x@sha256:ab exists\n", "✓ image quay.io/x@sha256:ab exists\n"},
		{"tab\tand newline\n", "tab\tand newline\n"},
		{"\x1b[31mred\x1b[0m", `\x1b[31mred\x1b[0m`},
		{"\x1b]8;;https://evil.example\x07click\x1b]8;;\x07", `\x1b]8;;https://evil.example\x07click\x1b]8;;\x07`},
		{"done\rFAKE OK", `done\x0dFAKE OK`},
		{"CVE-1 \u202eevil\u202c", `CVE-1 \u202eevil\u202c`},
		{"zero\u200bwidth\ufeff", `zero\u200bwidth\ufeff`},
		{"line\u2028sep", `line\u2028sep`},
		{"c1 \u009b31m", `c1 \u009b31m`},
		{"bad \xff byte", `bad \xff byte`},
		{"tag \U000e0041", `tag \U000e0041`},
	} {
		assert.Equal(t, tt.want, Escape(tt.in), "%q", tt.in)
	}
}

// TestSafeWriterSplitsRunes: a character split across writes is escaped (or kept) whole.
func TestSafeWriterSplitsRunes(t *testing.T) {
	var out bytes.Buffer
	w := NewSafeWriter(&out)
	in := []byte("ok ✓ \u202e end\n")
	for i := range in {
		_, err := w.Write(in[i : i+1])
		require.NoError(t, err)
	}
	assert.Equal(t, "ok ✓ \\u202e end\n", out.String())
	assert.Same(t, w, NewSafeWriter(w), "not wrapped twice")
}

// TestStepOutputIsEscaped: whatever a step prints — a message, a failure, long output — in
// text and JSON, outside text cannot act on the terminal.
func TestStepOutputIsEscaped(t *testing.T) {
	evil := "alert \x1b[2J\x1b[31mPWNED\u202e\r"
	for _, format := range []string{"text", "json"} {
		var out bytes.Buffer
		s := NewStep("check-alerts", &out, format, t.TempDir())
		s.Fail("firing: %s", evil)
		_, _ = s.Out().Write([]byte(evil + "\n"))
		s.fail(errorString(evil), false)
		for _, r := range out.String() {
			if r != '\n' && r != '\t' && (unicode.IsControl(r) || unicode.Is(unicode.Cf, r)) {
				t.Fatalf("%s: %q in %q", format, r, out.String())
			}
		}
		assert.Contains(t, out.String(), `\u202e`, format)
		assert.True(t, strings.Contains(out.String(), `\x1b[31mPWNED`) || strings.Contains(out.String(), `\\u001b[31mPWNED`), "%s: %s", format, out.String())
	}
}

type errorString string

func (e errorString) Error() string { return string(e) }

func FuzzEscape(f *testing.F) {
	f.Add("\x1b[31m\u202e\r\n\t✓\xff")
	f.Fuzz(func(t *testing.T, s string) {
		var out bytes.Buffer
		w := NewSafeWriter(&out)
		half := len(s) / 2
		_, _ = w.Write([]byte(s[:half]))
		_, _ = w.Write([]byte(s[half:]))
		for _, r := range out.String() {
			if r != '\n' && r != '\t' && (unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || r == '\u2028' || r == '\u2029') {
				t.Fatalf("%q in %q", r, out.String())
			}
		}
	})
}
