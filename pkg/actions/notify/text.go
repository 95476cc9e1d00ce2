package notify

import (
	"fmt"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Every value in a message comes from the pipeline (params, results, Konflux objects) and is
// treated as hostile: it is made valid UTF-8 without control characters, its lines and length
// are bounded, and Slack's three control characters are escaped so that it can never form a
// link (<http://…|…>), a mention (<!channel>, <@U…>) or a date (<!date^…>). Only link() makes
// links, from URLs it has checked itself.

// ellipsis marks a value that was cut.
const ellipsis = "…"

// clean makes s valid UTF-8 and removes control characters: newlines survive only when
// multiline, tabs and other controls become spaces. The legacy mention words (@here, @channel,
// @everyone) get an invisible word joiner so that no client parses them as mentions.
func clean(s string, multiline bool) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == '\r':
		case r == '\n' && multiline:
			b.WriteByte('\n')
		case unicode.IsControl(r) || r == '\u2028' || r == '\u2029' || unicode.Is(unicode.Cf, r) && r != '\u200d':
			// Format characters (bidi overrides, zero-width spaces) could disguise a value.
			b.WriteByte(' ')
		case r == '@' && mentionWordAt(s[i+1:]):
			b.WriteString("@\u2060")
		default:
			b.WriteRune(r)
		}
		i += size
	}
	out := b.String()
	if !multiline {
		return strings.Join(strings.Fields(out), " ")
	}
	lines := strings.Split(out, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRightFunc(l, unicode.IsSpace)
	}
	return strings.Trim(strings.Join(lines, "\n"), "\n")
}

func mentionWordAt(s string) bool {
	for _, w := range []string{"here", "channel", "everyone"} {
		if len(s) >= len(w) && strings.EqualFold(s[:len(w)], w) {
			return true
		}
	}
	return false
}

// escapeRune is the mrkdwn form of one character.
func escapeRune(r rune) string {
	switch r {
	case '&':
		return "&amp;"
	case '<':
		return "&lt;"
	case '>':
		return "&gt;"
	}
	return string(r)
}

// Escape returns s with &, < and > replaced by entities, as Slack requires of text that is not
// markup.
func Escape(s string) string { return escaper.Replace(s) }

var (
	escaper     = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")
	linkEscaper = strings.NewReplacer("|", "%7C", "<", "%3C", ">", "%3E", "&", "&amp;")
)

// maxInput bounds how much of a value is looked at, so that a huge value costs no more than a
// long one; what is cut is marked with an ellipsis.
func maxInput(maxChars int) int { return 8*maxChars + 1024 }

// head returns the start of s, at most n bytes, cut at a character boundary.
func head(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + ellipsis
}

// textOf returns the value s as escaped text of at most maxChars characters (counted after
// escaping, so that an entity is never cut in half) and at most maxLines lines (1 = single line).
func textOf(s string, maxChars, maxLines int) string {
	s = clean(head(s, maxInput(maxChars)), maxLines > 1)
	if maxLines > 1 {
		if lines := strings.Split(s, "\n"); len(lines) > maxLines {
			s = strings.Join(lines[:maxLines-1], "\n") + "\n" + fmt.Sprintf("… (%d more lines)", len(lines)-maxLines+1)
		}
	}
	if esc := Escape(s); Length(esc) <= maxChars {
		return esc
	}
	budget := maxChars - Length(ellipsis)
	var b strings.Builder
	n := 0
	for _, r := range s {
		e := escapeRune(r)
		if n+Length(e) > budget {
			break
		}
		b.WriteString(e)
		n += Length(e)
	}
	return b.String() + ellipsis
}

// code is a value in a code span: never formatted, never a link. A backtick in the value would
// end the span early, so it becomes a quote.
func code(s string, maxChars int) string {
	return "`" + textOf(strings.ReplaceAll(s, "`", "'"), maxChars-2, 1) + "`"
}

// maxURL bounds the URLs linked in a message.
const maxURL = 1000

// linkURL checks a URL given by the pipeline and returns it in the form a mrkdwn link needs, or
// false when it is not an absolute http(s) URL. Characters that would end the link (|, >) or
// open another (<) are percent-encoded, & is escaped, and user info is dropped.
func linkURL(raw string) (string, bool) {
	raw = strings.TrimSpace(raw)
	if raw == "" || len(raw) > maxURL {
		return "", false
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.Opaque != "" {
		return "", false
	}
	u.User = nil
	s := u.String()
	for _, r := range s {
		if r <= ' ' || r == 0x7f || !utf8.ValidRune(r) {
			return "", false
		}
	}
	s = linkEscaper.Replace(s)
	return s, true
}

// link is a mrkdwn link to raw labelled label; when raw is not a usable URL, the label alone.
func link(raw, label string) (string, bool) {
	u, ok := linkURL(raw)
	if !ok {
		return label, false
	}
	return "<" + u + "|" + label + ">", true
}
