package alerts

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/release-to-prod/release-to-prod/pkg/step/failure"
)

// Op is a label matching operator, as in Prometheus and Alertmanager.
type Op string

// The operators.
const (
	Equal    Op = "="
	NotEqual Op = "!="
	Regex    Op = "=~"
	NotRegex Op = "!~"
)

var labelNameRE = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

// Matcher selects alerts by one label. A missing label matches as the empty string, as in
// Prometheus.
type Matcher struct {
	Name  string
	Op    Op
	Value string

	re *regexp.Regexp // anchored, for Regex and NotRegex
}

// NewMatcher validates a matcher; a regex is compiled anchored, as Alertmanager does.
func NewMatcher(name string, op Op, value string) (Matcher, error) {
	if !labelNameRE.MatchString(name) {
		return Matcher{}, fmt.Errorf("label name %q is not valid (letters, digits and _, not starting with a digit)", name)
	}
	m := Matcher{Name: name, Op: op, Value: value}
	switch op {
	case Equal, NotEqual:
	case Regex, NotRegex:
		re, err := regexp.Compile("^(?:" + value + ")$")
		if err != nil {
			return Matcher{}, fmt.Errorf("regex of %s: %w", name, err)
		}
		m.re = re
	default:
		return Matcher{}, fmt.Errorf("operator %q is not one of = != =~ !~", op)
	}
	return m, nil
}

// Matches reports whether labels satisfy m.
func (m Matcher) Matches(labels map[string]string) bool {
	v := labels[m.Name]
	switch m.Op {
	case Equal:
		return v == m.Value
	case NotEqual:
		return v != m.Value
	case Regex:
		return m.re != nil && m.re.MatchString(v)
	case NotRegex:
		return m.re != nil && !m.re.MatchString(v)
	}
	return false
}

// String renders m as Alertmanager's filter syntax, the value always quoted.
func (m Matcher) String() string {
	return m.Name + string(m.Op) + quote(m.Value)
}

// quote escapes what both of Alertmanager's matcher parsers (classic and UTF-8) unescape.
func quote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	return `"` + r.Replace(s) + `"`
}

// Matchers is a conjunction: an alert must satisfy every one.
type Matchers []Matcher

// Matches reports whether labels satisfy every matcher.
func (ms Matchers) Matches(labels map[string]string) bool {
	for _, m := range ms {
		if !m.Matches(labels) {
			return false
		}
	}
	return true
}

// Filters are the values of Alertmanager's repeated `filter` query parameter.
func (ms Matchers) Filters() []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.String()
	}
	return out
}

func (ms Matchers) String() string { return strings.Join(ms.Filters(), ",") }

// ParseMatchers parses a comma-separated matcher list such as
// `environment="production",team=~"a|b"`, optionally wrapped in braces as in PromQL. Values are
// double-quoted (escapes \\ \" \n; commas allowed inside) or bare (no commas, quotes or
// braces; surrounding spaces trimmed). One trailing comma is allowed. Errors are
// failure.InvalidInput naming the bad item.
func ParseMatchers(s string) (Matchers, error) {
	p := &matcherParser{in: s}
	ms, err := p.parse()
	if err != nil {
		return nil, failure.New(failure.InvalidInput, nil, "matchers %q: %w", s, err)
	}
	return ms, nil
}

type matcherParser struct {
	in  string
	pos int
}

func (p *matcherParser) parse() (Matchers, error) {
	p.space()
	braced := p.eat("{")
	var ms Matchers
	for {
		p.space()
		if p.done() || braced && p.peek() == '}' {
			break
		}
		m, err := p.matcher(len(ms) + 1)
		if err != nil {
			return nil, err
		}
		ms = append(ms, m)
		p.space()
		if !p.eat(",") {
			break
		}
	}
	p.space()
	if braced && !p.eat("}") {
		return nil, p.errorf("missing closing }")
	}
	p.space()
	if !p.done() {
		return nil, p.errorf("unexpected %q after matcher %d (matchers are separated by commas)", p.rest(8), len(ms))
	}
	if len(ms) == 0 {
		return nil, fmt.Errorf("no matcher given: the gate must select alerts, e.g. environment=\"production\" (to block on every alert: alertname=~\".+\")")
	}
	return ms, nil
}

func (p *matcherParser) matcher(n int) (Matcher, error) {
	start := p.pos
	for !p.done() && isNameByte(p.peek()) {
		p.pos++
	}
	name := p.in[start:p.pos]
	if name == "" {
		if p.peek() == ',' {
			return Matcher{}, p.errorf("matcher %d is empty (two commas in a row?)", n)
		}
		return Matcher{}, p.errorf("matcher %d: expected a label name, found %q", n, p.rest(8))
	}
	p.space()
	var op Op
	switch {
	case p.eat("=~"):
		op = Regex
	case p.eat("!~"):
		op = NotRegex
	case p.eat("!="):
		op = NotEqual
	case p.eat("="):
		op = Equal
	default:
		return Matcher{}, p.errorf("matcher %d (%s): expected one of = != =~ !~ after the label name, found %q", n, name, p.rest(8))
	}
	p.space()
	var value string
	if p.peek() == '"' {
		v, err := p.quoted()
		if err != nil {
			return Matcher{}, fmt.Errorf("matcher %d (%s): %w", n, name, err)
		}
		value = v
	} else {
		start := p.pos
		for !p.done() && p.peek() != ',' && p.peek() != '}' {
			if c := p.peek(); c == '"' || c == '{' {
				return Matcher{}, p.errorf("matcher %d (%s): unexpected %q in an unquoted value (quote the value)", n, name, c)
			}
			p.pos++
		}
		value = strings.TrimSpace(p.in[start:p.pos])
		if value == "" {
			return Matcher{}, p.errorf("matcher %d (%s): value missing (write \"\" for an empty value)", n, name)
		}
	}
	m, err := NewMatcher(name, op, value)
	if err != nil {
		return Matcher{}, fmt.Errorf("matcher %d: %w", n, err)
	}
	return m, nil
}

func (p *matcherParser) quoted() (string, error) {
	open := p.pos
	p.pos++ // the opening quote
	var b strings.Builder
	for !p.done() {
		c := p.in[p.pos]
		switch c {
		case '"':
			p.pos++
			return b.String(), nil
		case '\\':
			if p.pos+1 >= len(p.in) {
				return "", fmt.Errorf("unterminated quoted value starting at offset %d", open)
			}
			switch e := p.in[p.pos+1]; e {
			case '\\', '"':
				b.WriteByte(e)
			case 'n':
				b.WriteByte('\n')
			default:
				return "", fmt.Errorf("unknown escape \\%c at offset %d (only \\\\, \\\" and \\n)", e, p.pos)
			}
			p.pos += 2
		default:
			b.WriteByte(c)
			p.pos++
		}
	}
	return "", fmt.Errorf("unterminated quoted value starting at offset %d", open)
}

func isNameByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func (p *matcherParser) done() bool { return p.pos >= len(p.in) }

func (p *matcherParser) peek() byte {
	if p.done() {
		return 0
	}
	return p.in[p.pos]
}

func (p *matcherParser) eat(tok string) bool {
	if strings.HasPrefix(p.in[p.pos:], tok) {
		p.pos += len(tok)
		return true
	}
	return false
}

func (p *matcherParser) space() {
	for !p.done() && (p.peek() == ' ' || p.peek() == '\t' || p.peek() == '\n' || p.peek() == '\r') {
		p.pos++
	}
}

func (p *matcherParser) rest(n int) string {
	r := p.in[p.pos:]
	if len(r) > n {
		r = r[:n] + "…"
	}
	return r
}

func (p *matcherParser) errorf(format string, args ...any) error {
	return fmt.Errorf("at offset %d: "+format, append([]any{p.pos}, args...)...)
}

// SeverityMatcher turns the severity param into a matcher: "critical" is severity="critical",
// a list "critical,warning" is severity=~"critical|warning". Empty means every severity (ok is
// false).
func SeverityMatcher(severity string) (m Matcher, ok bool, err error) {
	var levels []string
	for _, l := range strings.Split(severity, ",") {
		if l = strings.TrimSpace(l); l != "" {
			levels = append(levels, l)
		}
	}
	switch len(levels) {
	case 0:
		return Matcher{}, false, nil
	case 1:
		m, err = NewMatcher("severity", Equal, levels[0])
	default:
		for i, l := range levels {
			levels[i] = regexp.QuoteMeta(l)
		}
		m, err = NewMatcher("severity", Regex, strings.Join(levels, "|"))
	}
	if err != nil {
		return Matcher{}, false, failure.New(failure.InvalidInput, nil, "severity %q: %w", severity, err)
	}
	return m, true, nil
}
