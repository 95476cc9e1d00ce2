package knowledge

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Text returns s as plain text of at most n bytes, safe to print in a terminal and to put into a
// Slack message: valid UTF-8 on one line; no control or format characters (terminal escape
// sequences, bidi overrides, zero-width characters); and the characters that format Slack mrkdwn
// (*bold*, ~strike~, `code`, _italic_ at a word edge) replaced by look-alikes. Slack's own
// control characters (<, >, &) are escaped by package notify, which never trusts a value.
func Text(s string, n int) string {
	if len(s) > 4*n+64 {
		s = s[:4*n+64] // no need to look at more than can be kept
	}
	s = strings.ToValidUTF8(s, "\uFFFD")
	var b strings.Builder
	b.Grow(len(s))
	prev := ' '
	runes := []rune(s)
	for i, r := range runes {
		next := ' '
		if i+1 < len(runes) {
			next = runes[i+1]
		}
		switch {
		case unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || r == '\u2028' || r == '\u2029':
			r = ' '
		case r == '*':
			r = '∗' // U+2217 ASTERISK OPERATOR
		case r == '~':
			r = '∼' // U+223C TILDE OPERATOR
		case r == '`':
			r = '\''
		case r == '_' && (!wordRune(prev) || !wordRune(next)):
			r = '＿' // U+FF3F FULLWIDTH LOW LINE: release_plan stays, _italic_ does not
		}
		b.WriteRune(r)
		prev = r
	}
	out := strings.Join(strings.Fields(b.String()), " ")
	return clip(out, n)
}

func wordRune(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }

// clip cuts s to at most n bytes on a rune boundary, marking the cut with an ellipsis.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const ellipsis = "…"
	n -= len(ellipsis)
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	if n < 0 {
		return ""
	}
	return s[:n] + ellipsis
}
