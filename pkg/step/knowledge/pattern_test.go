package knowledge

import (
	"fmt"
	"regexp"
	"regexp/syntax"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// hostile is the pattern of the issue: 243 bytes of valid RE2 that compile to 22,000
// instructions (about 2 MiB) and take seconds per match.
var hostile = strings.Repeat("[^!]{0,999}", 22) + "!"

// atTheLimit returns a pattern whose program is exactly MaxPatternProgram instructions, as
// costly per instruction as RE2 gets (every state alive on text without "!"), distinct per i.
func atTheLimit(t testing.TB, i int) string {
	t.Helper()
	for k := 24; k > 0; k-- {
		p := fmt.Sprintf("(?:%d)?%s[^!]{0,%d}!", i, strings.Repeat("[^!]{0,24}", 3), k)
		if n, err := PatternCost(p); err == nil {
			// Pad to the exact limit with literal characters, one instruction each.
			return p + strings.Repeat("!", MaxPatternProgram-n)
		}
	}
	t.Fatalf("no pattern at the limit")
	return ""
}

func TestPatternCost(t *testing.T) {
	tests := []struct {
		pattern string
		refused string // "" for accepted
	}{
		{`dial tcp .*: i/o timeout`, ""},
		{`(?i)407 proxy authentication required`, ""},
		{`\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}`, ""},
		{`blob unknown to registry: sha256:[0-9a-f]{64}`, ""},
		{hostile, "too complex: a repeat count of 999 is over the limit of 100"},
		{strings.Repeat("[^!]{0,99}", 22) + "!", "too complex: up to 4"},
		{`(x{30}){30}`, "too complex: up to 1954"},
		{strings.Repeat("[^!]{0,24}", 5) + "!", "too complex: up to 2"},
		{`dial (tcp`, "not a valid regexp"},
		{`x{1001}`, "not a valid regexp"},
	}
	for _, tt := range tests {
		t.Run(Text(tt.pattern, 40), func(t *testing.T) {
			n, err := PatternCost(tt.pattern)
			if tt.refused == "" {
				require.NoError(t, err)
				assert.LessOrEqual(t, n, MaxPatternProgram)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.refused)
		})
	}
}

// TestPatternOnTheLimit: a pattern of exactly MaxPatternProgram instructions is used, one more
// is refused, when read and when taught (Decode is what Teach validates with).
func TestPatternOnTheLimit(t *testing.T) {
	p := atTheLimit(t, 0)
	n, err := PatternCost(p)
	require.NoError(t, err)
	require.Equal(t, MaxPatternProgram, n, p)
	over := p + "!"
	n, err = PatternCost(over)
	require.Error(t, err, "%d instructions", n)
	assert.Contains(t, err.Error(), fmt.Sprintf("too complex: up to %d regexp instructions, over the limit of %d", MaxPatternProgram+1, MaxPatternProgram))

	s, warns := Decode(fixes(
		map[string]any{"id": "at", "match": map[string]any{"pattern": p}, "cause": "c", "fix": "f"},
		map[string]any{"id": "over", "match": map[string]any{"pattern": over}, "cause": "c", "fix": "f"},
	))
	require.Len(t, warns, 1)
	assert.Contains(t, warns[0].String(), `entry "over" skipped: match: pattern is too complex: up to 201 regexp instructions`)
	assert.False(t, warns[0].MayBlock)
	require.Len(t, s.LearnedFixes, 1)
	assert.Equal(t, "at", s.LearnedFixes[0].ID)
}

// TestStorePatternsBounded: the patterns together stay within MaxStorePrograms; the first
// entries are kept, and a small pattern after a refused one still fits.
func TestStorePatternsBounded(t *testing.T) {
	var list []any
	kept := MaxStorePrograms / MaxPatternProgram
	for i := range kept + 2 {
		list = append(list, map[string]any{"id": fmt.Sprintf("f%d", i), "match": map[string]any{"pattern": atTheLimit(t, i)}, "cause": "c", "fix": "f"})
	}
	list = append(list, map[string]any{"id": "no-pattern", "match": map[string]any{"step": "x"}, "cause": "c", "fix": "f"})
	s, warns := Decode(fixes(list...))
	require.Len(t, s.LearnedFixes, kept+1)
	assert.Equal(t, "no-pattern", s.LearnedFixes[len(s.LearnedFixes)-1].ID)
	require.Len(t, warns, 2)
	assert.Equal(t, fmt.Sprintf(`learned-fixes.yaml: entry "f%d" skipped: its pattern (200 regexp instructions) brings the store's patterns over their limit of %d instructions together: remove old entries or use simpler patterns`, kept, MaxStorePrograms), warns[0].String())
	assert.Equal(t, 2, OverPatternBudget(warns))
}

// TestPatternsCompiledLazily: a pattern is compiled only when a failure matches the rest of
// its fix, and once.
func TestPatternsCompiledLazily(t *testing.T) {
	s, warns := Decode(fixes(
		map[string]any{"id": "image", "match": map[string]any{"step": "check-image", "pattern": "i/o timeout"}, "cause": "c", "fix": "f"},
		map[string]any{"id": "alerts", "match": map[string]any{"step": "check-alerts", "status": 407, "pattern": "Proxy"}, "cause": "c", "fix": "f"},
	))
	require.Empty(t, warns)
	tried := func() []bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		var out []bool
		for _, c := range s.compiled {
			out = append(out, c.tried)
		}
		return out
	}
	assert.Empty(t, tried(), "nothing compiled when read")
	_, ok := s.Lookup(Failure{Step: "check-alerts", Status: 503, Message: "Proxy"})
	assert.False(t, ok)
	assert.Equal(t, []bool{false, false}, tried(), "neither fix's other fields match")
	l, ok := s.Lookup(Failure{Step: "check-alerts", Status: 407, Message: "407 Proxy Authentication Required"})
	require.True(t, ok)
	assert.Equal(t, "alerts", l.ID)
	assert.Equal(t, []bool{false, true}, tried())
}

// TestHandMadeStoreIsBounded: a Store built without Decode never compiles a pattern over the
// budget either.
func TestHandMadeStoreIsBounded(t *testing.T) {
	s := &Store{LearnedFixes: []LearnedFix{{ID: "hostile", Match: Match{Pattern: hostile}, Cause: "c", Fix: "f"}}}
	_, ok := s.Lookup(Failure{Step: "s", Message: strings.Repeat("a", 5000) + "!"})
	assert.False(t, ok, "refused, not compiled")
}

// hostileStore is learned-fixes.yaml's document with n entries of pattern.
func hostileStore(n int, pattern func(i int) string) map[string]any {
	var list []any
	for i := range n {
		list = append(list, map[string]any{"id": fmt.Sprintf("h%d", i), "match": map[string]any{"pattern": pattern(i)}, "cause": "c", "fix": "f"})
	}
	return fixes(list...)
}

// lookupCost decodes docs and looks up a failure no pattern matches (every pattern is tried,
// on the longest text matched), returning the CPU time (the best of three), the bytes
// allocated and those the store retains.
func lookupCost(docs map[string]any) (time.Duration, uint64, int64) {
	msg := strings.Repeat("a", 2*maxMatchedText)
	best := time.Hour
	var alloc uint64
	var kept int64
	for range 3 {
		var before, after, held runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		var s *Store
		d := cpuTime(func() {
			s, _ = Decode(docs)
			s.Lookup(Failure{Step: "check-image", ID: UnknownID, Message: msg})
		})
		best = min(best, d)
		runtime.ReadMemStats(&after)
		runtime.GC()
		runtime.ReadMemStats(&held)
		runtime.KeepAlive(s)
		alloc = after.TotalAlloc - before.TotalAlloc
		kept = int64(held.HeapAlloc) - int64(before.HeapAlloc)
	}
	return best, alloc, kept
}

// TestHostileStoreIsCheap: 200 hostile patterns, and a store at every limit (the worst
// patterns admitted, as many as fit), add under 50 ms and a few MiB to a failing step, far
// within the 32Mi of its container.
func TestHostileStoreIsCheap(t *testing.T) {
	const budget = 50 * time.Millisecond
	const garbage, retained = 16 << 20, 1 << 20
	for name, docs := range map[string]map[string]any{
		"200 hostile patterns": hostileStore(200, func(int) string { return hostile }),
		"at the limit":         hostileStore(MaxLearnedFixes, func(i int) string { return atTheLimit(t, i) }),
	} {
		t.Run(name, func(t *testing.T) {
			d, alloc, kept := lookupCost(docs)
			t.Logf("%s: %v, %d KiB allocated, %d KiB retained", name, d, alloc>>10, kept>>10)
			assert.Less(t, d, budget)
			assert.Less(t, alloc, uint64(garbage), "allocated in all (garbage the GC takes back as it goes)")
			assert.Less(t, kept, int64(retained), "retained by the store and its compiled patterns")
		})
	}
}

func wallTime(f func()) time.Duration {
	start := time.Now()
	f()
	return time.Since(start)
}

func BenchmarkHostileStore(b *testing.B) {
	docs := hostileStore(200, func(int) string { return hostile })
	msg := strings.Repeat("a", 2*maxMatchedText)
	b.ReportAllocs()
	for b.Loop() {
		s, _ := Decode(docs)
		s.Lookup(Failure{Step: "check-image", Message: msg})
	}
}

func BenchmarkDecodeAtTheLimit(b *testing.B) {
	docs := hostileStore(MaxLearnedFixes, func(i int) string { return atTheLimit(b, i) })
	b.ReportAllocs()
	for b.Loop() {
		Decode(docs)
	}
}

func BenchmarkStoreAtTheLimit(b *testing.B) {
	docs := hostileStore(MaxLearnedFixes, func(i int) string { return atTheLimit(b, i) })
	msg := strings.Repeat("a", 2*maxMatchedText)
	b.ReportAllocs()
	for b.Loop() {
		s, _ := Decode(docs)
		s.Lookup(Failure{Step: "check-image", Message: msg})
	}
}

// FuzzPattern: whatever the pattern, PatternCost does not panic; what it accepts compiles
// within the budget, its estimate is an upper bound, and a lookup with it does not panic.
func FuzzPattern(f *testing.F) {
	for _, p := range []string{hostile, `dial tcp .*: i/o timeout`, `(?i)x{2,5}(a|b|)*\b$`, `[^!]{0,24}{3}`, `(?:(?:a{0,3}){0,3}){0,3}`} {
		f.Add(p, "dial tcp 10.0.0.1:443: i/o timeout")
	}
	f.Fuzz(func(t *testing.T, pattern, msg string) {
		if len(pattern) > MaxPattern {
			return
		}
		n, err := PatternCost(pattern)
		if err != nil {
			return
		}
		if n > MaxPatternProgram {
			t.Fatalf("%q: %d instructions accepted", pattern, n)
		}
		re, err := syntax.Parse(pattern, syntax.Perl)
		if err != nil {
			t.Fatalf("%q accepted but does not parse: %v", pattern, err)
		}
		prog, err := syntax.Compile(re.Simplify())
		if err != nil {
			t.Fatalf("%q accepted but does not compile: %v", pattern, err)
		}
		if len(prog.Inst) > n {
			t.Fatalf("%q: cost %d under the program's %d instructions", pattern, n, len(prog.Inst))
		}
		if _, err := regexp.Compile(pattern); err != nil {
			t.Fatalf("%q accepted but does not compile: %v", pattern, err)
		}
		s, _ := Decode(fixes(map[string]any{"match": map[string]any{"pattern": pattern}, "cause": "c", "fix": "f"}))
		s.Lookup(Failure{Step: "s", Message: msg})
	})
}
