package step

import (
	"fmt"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Text from outside — alert names and annotations, Quay's vulnerability texts, the release
// history, the team knowledge store, error bodies — must never reach a terminal or a log as it
// came: an ESC starts a terminal escape sequence (colours, cursor moves, a title, a hyperlink),
// a carriage return overwrites the line a person reads, and bidi controls (U+202E) or
// zero-width characters make a line read differently from what it holds. This file is the one
// place that makes such text inert: every line a step prints goes through a SafeWriter (Main
// and NewStep wrap the output), and the local runner wraps its own.

// Escape returns s with every character that could act on a terminal or hide in a log written
// as a visible Go escape: control characters except newline and tab (\x1b, \r, \x7f, \u0085),
// Unicode format characters (bidi controls, zero-width characters, \u202e), the line and
// paragraph separators, and bytes that are not UTF-8 (\xff). Everything else, ✓ and ✗ included,
// stays as it is.
func Escape(s string) string {
	if !needsEscape(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n <= 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case unsafeRune(r):
			b.WriteString(escapeRune(r))
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

func needsEscape(s string) bool {
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && n <= 1) || unsafeRune(r) {
			return true
		}
		i += n
	}
	return false
}

// unsafeRune reports whether r acts on a terminal or is invisible in a log.
func unsafeRune(r rune) bool {
	if r == '\n' || r == '\t' {
		return false
	}
	return unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || r == '\u2028' || r == '\u2029'
}

func escapeRune(r rune) string {
	if r < 0x80 {
		return fmt.Sprintf(`\x%02x`, r)
	}
	if r <= 0xffff {
		return fmt.Sprintf(`\u%04x`, r)
	}
	return fmt.Sprintf(`\U%08x`, r)
}

// SafeWriter escapes (Escape) what is written through it. A character split across two writes
// is held until its last byte comes.
type SafeWriter struct {
	w       io.Writer
	pending []byte
}

// NewSafeWriter returns w escaping every write; w itself when it already is one.
func NewSafeWriter(w io.Writer) io.Writer {
	if _, ok := w.(*SafeWriter); ok || w == nil {
		return w
	}
	return &SafeWriter{w: w}
}

// Write escapes p and writes it. It reports len(p) written when the escaped text was.
func (sw *SafeWriter) Write(p []byte) (int, error) {
	buf := append(sw.pending, p...)
	sw.pending = nil
	// Hold back an incomplete character at the end (at most 3 bytes of a 4-byte one).
	cut := len(buf)
	for k := 1; k <= 3 && k <= len(buf); k++ {
		if utf8.RuneStart(buf[len(buf)-k]) {
			if !utf8.FullRune(buf[len(buf)-k:]) {
				cut = len(buf) - k
			}
			break
		}
	}
	sw.pending = append([]byte(nil), buf[cut:]...)
	if _, err := io.WriteString(sw.w, Escape(string(buf[:cut]))); err != nil {
		return 0, err
	}
	return len(p), nil
}
