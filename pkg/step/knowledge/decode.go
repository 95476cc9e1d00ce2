package knowledge

import (
	"fmt"
	"maps"
	"math"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"
)

// Decode validates the documents of the store's data keys and returns a store holding the
// entries that passed. Each document is already decoded into generic values (maps with string
// keys, lists, strings, booleans, numbers, nil) by the caller: YAML for the ConfigMap (package
// knowledge/store), JSON for the file (ReadFile). Unknown keys are warned about and ignored;
// every problem is a Warning, never an error. A warning about something that could have been a
// blocking known issue has MayBlock set: the known-issues gate fails closed on it. Known issues
// that have expired by now do not count toward MaxKnownIssues.
func Decode(docs map[string]any) (*Store, []Warning) {
	return DecodeAt(docs, time.Now())
}

// DecodeAt is Decode with the time that says which known issues have expired.
func DecodeAt(docs map[string]any, now time.Time) (*Store, []Warning) {
	s := &Store{}
	var warns []Warning
	for _, key := range slices.Sorted(maps.Keys(docs)) {
		doc := docs[key]
		switch key {
		case KnownIssuesKey:
			s.KnownIssues, warns = decodeDoc(listSpec[KnownIssue]{key: key, list: "issues", limit: MaxKnownIssues, decode: decodeIssue,
				counts: func(k KnownIssue) bool { return k.Active(now) }, blocks: func(k KnownIssue) bool { return k.Blocks }, mayBlock: mayBlock}, doc, warns)
		case LearnedFixesKey:
			s.LearnedFixes, warns = decodeDoc(listSpec[LearnedFix]{key: key, list: "fixes", limit: MaxLearnedFixes, decode: decodeFix}, doc, warns)
		default:
			warns = append(warns, Warning{Key: key, Err: fmt.Sprintf("unknown key: ignored (the store reads %s and %s)", KnownIssuesKey, LearnedFixesKey)})
		}
	}
	s.LearnedFixes, warns = boundPatterns(s.LearnedFixes, warns)
	return s, warns
}

// mayBlock reports whether a known-issues entry that was skipped could have been blocking:
// unless it says blocks: false (the boolean, nothing else), nobody knows. "blocks: yes" (text
// in YAML 1.2), "blocks: 'true'", a misspelt "block: true" or an entry that is not a mapping
// all may be a release freeze.
func mayBlock(entry any) bool {
	m, ok := entry.(map[string]any)
	if !ok {
		return true
	}
	v, ok := m["blocks"]
	return !ok || v != false
}

// listSpec says how decodeDoc reads one key's list.
type listSpec[T any] struct {
	key, list string
	limit     int
	decode    func(map[string]any) (T, string, error)
	// counts says whether an entry counts toward the limit (nil: every entry does); blocks
	// whether a valid entry blocks releases; mayBlock whether a raw entry that was skipped
	// could have. nil blocks and mayBlock: nothing in the key can block.
	counts   func(T) bool
	blocks   func(T) bool
	mayBlock func(any) bool
}

// decodeDoc checks a key's version and decodes its list, entry by entry.
func decodeDoc[T any](spec listSpec[T], doc any, warns []Warning) ([]T, []Warning) {
	items, warns, ok := spec.items(doc, warns)
	if !ok {
		return nil, warns
	}
	d := listDecoder[T]{spec: spec, warns: warns, seen: map[string]bool{}}
	for i, item := range items {
		if !d.entry(i, item, len(items)) {
			break
		}
	}
	if d.over > 0 {
		d.warns = append(d.warns, Warning{Key: spec.key, Entry: d.firstOver, Err: fmt.Sprintf("over the limit of %d entries that have not expired (and %d more after it)", spec.limit, d.over-1)})
	}
	return d.out, d.warns
}

// items checks the mapping that holds the key's list and returns the list's entries; false
// when the key is ignored as a whole or holds no list.
func (spec listSpec[T]) items(doc any, warns []Warning) ([]any, []Warning, bool) {
	key, list := spec.key, spec.list
	// A problem with the whole key hides every entry in it, blocking ones too.
	keyBlocks := spec.mayBlock != nil
	if doc == nil {
		return nil, warns, false
	}
	m, ok := doc.(map[string]any)
	if !ok {
		return nil, append(warns, Warning{Key: key, Err: fmt.Sprintf("not a mapping with version and %s: ignored", list), MayBlock: keyBlocks}), false
	}
	unknown := make([]string, 0, len(m))
	for k := range m {
		if k != "version" && k != list {
			unknown = append(unknown, k)
		}
	}
	sort.Strings(unknown)
	for _, k := range unknown {
		warns = append(warns, Warning{Key: key, Err: fmt.Sprintf("unknown field %q: ignored (the fields are version and %s)", Text(k, maxName), list), MayBlock: keyBlocks})
	}
	switch v, err := intOf(m["version"]); {
	case m["version"] == nil:
		warns = append(warns, Warning{Key: key, Err: fmt.Sprintf("no version: read as version %d", Version)})
	case err != nil || v != Version:
		return nil, append(warns, Warning{Key: key, Err: fmt.Sprintf("version %v is not %d (written by a newer release-to-prod?): the key is ignored", m["version"], Version), MayBlock: keyBlocks}), false
	}
	if m[list] == nil {
		return nil, warns, false
	}
	items, ok := m[list].([]any)
	if !ok {
		return nil, append(warns, Warning{Key: key, Err: list + " is not a list: ignored", MayBlock: keyBlocks}), false
	}
	return items, warns, true
}

// listDecoder is a key's list as its entries are decoded: the entries kept, the ids seen and
// how many entries count toward the limit, and those over it.
type listDecoder[T any] struct {
	spec      listSpec[T]
	warns     []Warning
	out       []T
	seen      map[string]bool
	counted   int
	over      int
	firstOver string
}

// entry decodes the i-th of n entries; false when the rest is over the limit unread.
func (d *listDecoder[T]) entry(i int, item any, n int) bool {
	spec := d.spec
	name := fmt.Sprintf("#%d", i+1)
	skipped := func(err string) {
		d.warns = append(d.warns, Warning{Key: spec.key, Entry: name, Err: err, MayBlock: spec.mayBlock != nil && spec.mayBlock(item)})
	}
	em, ok := item.(map[string]any)
	if !ok {
		skipped("not a mapping")
		return true
	}
	if id, ok := em["id"].(string); ok && id != "" {
		name = fmt.Sprintf("%q", Text(id, maxName))
	}
	if d.counted == spec.limit && spec.counts == nil {
		// Every entry counts: the rest is over the limit, whatever it holds.
		d.warns = append(d.warns, Warning{Key: spec.key, Entry: name, Err: fmt.Sprintf("over the limit of %d entries (and %d more after it)", spec.limit, n-i-1)})
		return false
	}
	e, id, err := spec.decode(em)
	if err == nil && id != "" && d.seen[id] {
		err = fmt.Errorf("id %q is used by an earlier entry", id)
	}
	if err != nil {
		skipped(err.Error())
		return true
	}
	counts := spec.counts == nil || spec.counts(e)
	if counts && d.counted == spec.limit {
		if spec.blocks != nil && spec.blocks(e) {
			d.warns = append(d.warns, Warning{Key: spec.key, Entry: name, MayBlock: true,
				Err: fmt.Sprintf("over the limit of %d entries that have not expired, and it blocks releases", spec.limit)})
		} else if d.over++; d.over == 1 {
			d.firstOver = name
		}
		return true
	}
	if counts {
		d.counted++
	}
	d.seen[id] = true
	d.out = append(d.out, e)
	return true
}

// fields reads one entry's fields, refusing unknown ones and wrong types.
type fields struct {
	m   map[string]any
	err error
}

func newFields(m map[string]any, known ...string) *fields {
	f := &fields{m: m}
	var unknown []string
	for k := range m {
		if !slices.Contains(known, k) {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		f.err = fmt.Errorf("unknown field %q (known: %s)", unknown[0], strings.Join(known, ", "))
	}
	return f
}

// str reads a string field of at most n bytes; required fields must not be blank. The value is
// made plain (Text).
func (f *fields) str(key string, n int, required bool) string {
	v, ok := f.m[key]
	if f.err != nil || (!ok || v == nil) && !required {
		return ""
	}
	s, isStr := v.(string)
	switch {
	case !isStr && v != nil:
		f.err = fmt.Errorf("%s is not text", key)
	case strings.TrimSpace(s) == "":
		f.err = fmt.Errorf("%s is missing", key)
	case len(s) > n:
		f.err = fmt.Errorf("%s is %d bytes long, over the limit of %d", key, len(s), n)
	}
	if f.err != nil {
		return ""
	}
	return Text(s, n)
}

func (f *fields) boolean(key string) bool {
	v, ok := f.m[key]
	if f.err != nil || !ok || v == nil {
		return false
	}
	b, isBool := v.(bool)
	if !isBool {
		f.err = fmt.Errorf("%s is not true or false", key)
	}
	return b
}

func (f *fields) integer(key string) int {
	v, ok := f.m[key]
	if f.err != nil || !ok || v == nil {
		return 0
	}
	n, err := intOf(v)
	if err != nil {
		f.err = fmt.Errorf("%s: %w", key, err)
	}
	return n
}

func intOf(v any) (int, error) {
	switch n := v.(type) {
	case int:
		return n, nil
	case int64:
		if n > math.MaxInt32 || n < math.MinInt32 {
			return 0, fmt.Errorf("%d is out of range", n)
		}
		return int(n), nil
	case float64:
		if n != math.Trunc(n) || n > math.MaxInt32 || n < math.MinInt32 {
			return 0, fmt.Errorf("%v is not a whole number", n)
		}
		return int(n), nil
	}
	return 0, fmt.Errorf("%v is not a number", v)
}

var idPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

func (f *fields) id() string {
	id := f.str("id", maxName, false)
	if id != "" && !idPattern.MatchString(id) {
		f.err = fmt.Errorf("id %q: use letters, digits, '.', '_' and '-'", id)
	}
	return id
}

func decodeIssue(m map[string]any) (KnownIssue, string, error) {
	f := newFields(m, "id", "service", "message", "expires", "blocks", "by", "added")
	k := KnownIssue{ID: f.id(), Service: f.str("service", maxName, false), Message: f.str("message", MaxText, true),
		Expires: f.str("expires", maxName, false), Blocks: f.boolean("blocks"), By: f.str("by", maxName, false), Added: f.str("added", maxName, false)}
	if f.err != nil {
		return k, "", f.err
	}
	if k.Service == "" {
		k.Service = "any"
	}
	if !slices.Contains(Services, k.Service) {
		return k, "", fmt.Errorf("service %q is not one of %s", k.Service, strings.Join(Services, ", "))
	}
	if k.Expires != "" {
		t, err := ParseTime(k.Expires, true)
		if err != nil {
			return k, "", fmt.Errorf("expires: %w", err)
		}
		k.expires, k.Expires = t, t.Format(time.RFC3339)
	}
	if k.Added != "" {
		if _, err := ParseTime(k.Added, false); err != nil {
			return k, "", fmt.Errorf("added: %w", err)
		}
	}
	return k, k.ID, nil
}

func decodeFix(m map[string]any) (LearnedFix, string, error) {
	f := newFields(m, "id", "match", "cause", "fix", "replace", "by", "added", "example")
	l := LearnedFix{ID: f.id(), Cause: f.str("cause", MaxText, true), Fix: f.str("fix", MaxText, true),
		Replace: f.boolean("replace"), By: f.str("by", maxName, false), Added: f.str("added", maxName, false),
		Example: f.str("example", MaxText, false)}
	if f.err != nil {
		return l, "", f.err
	}
	mm, ok := m["match"].(map[string]any)
	if !ok {
		return l, "", fmt.Errorf("match is missing or not a mapping (step, failure, status, pattern, fingerprint)")
	}
	g := newFields(mm, "step", "failure", "status", "pattern", "fingerprint")
	l.Match = Match{Step: g.str("step", maxName, false), Failure: g.str("failure", maxName, false), Status: g.integer("status"),
		Fingerprint: g.str("fingerprint", maxName, false)}
	if g.err == nil {
		// A pattern is not made plain: its characters mean something to the regexp.
		if p, ok := mm["pattern"]; ok && p != nil {
			ps, isStr := p.(string)
			switch {
			case !isStr:
				g.err = fmt.Errorf("pattern is not text")
			case len(ps) > MaxPattern:
				g.err = fmt.Errorf("pattern is %d bytes long, over the limit of %d", len(ps), MaxPattern)
			default:
				l.Match.Pattern = ps
			}
		}
	}
	if g.err != nil {
		return l, "", fmt.Errorf("match: %w", g.err)
	}
	if l.Match == (Match{}) {
		return l, "", fmt.Errorf("match is empty: it would match every failure")
	}
	if l.Match.Status != 0 && (l.Match.Status < 100 || l.Match.Status > 599) {
		return l, "", fmt.Errorf("match: status %d is not an HTTP status", l.Match.Status)
	}
	if l.Match.Pattern != "" {
		n, err := PatternCost(l.Match.Pattern)
		if err != nil {
			return l, "", fmt.Errorf("match: pattern is %w", err)
		}
		l.program = n
	}
	if l.Added != "" {
		if _, err := ParseTime(l.Added, false); err != nil {
			return l, "", fmt.Errorf("added: %w", err)
		}
	}
	return l, l.ID, nil
}

// ParseTime reads an RFC 3339 time or a date (YYYY-MM-DD). With endOfDay, a date means the end
// of that day in UTC (an issue that "expires 2026-03-05" is active all of that day).
func ParseTime(s string, endOfDay bool) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not an RFC 3339 time (2026-03-05T18:00:00Z) or a date (2026-03-05)", s)
	}
	if endOfDay {
		d = d.Add(24 * time.Hour)
	}
	return d, nil
}
