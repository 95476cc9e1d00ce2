package knowledge

import (
	"fmt"
	"math"
	"regexp"
	"regexp/syntax"
	"strings"
)

// A learned fix's pattern is text from the store, which anyone who may edit the ConfigMap
// writes, matched in every step that fails. RE2 matches in linear time, but its costs grow with
// the compiled program: strings.Repeat("[^!]{0,999}", 22)+"!" is 243 bytes, compiles to
// 22,000 instructions (about 2 MiB) and takes seconds per match; twenty of them OOM-kill a 32Mi
// step, and an OOM kill blocks every release. So a pattern is bounded by what it costs, not by
// its length, and the store's patterns together too.
const (
	// MaxPatternProgram bounds one pattern's compiled program (instructions, every repeat
	// expanded). Real patterns ("dial tcp .*: i/o timeout") take 20 to 40; at 200 the
	// matcher still takes its bounded backtracking path on maxMatchedText bytes, a few
	// milliseconds at worst.
	MaxPatternProgram = 200
	// MaxPatternRepeat bounds a counted repeat ({n,m}): RE2 allows 1000, each one a copy.
	MaxPatternRepeat = 100
	// MaxStorePrograms bounds the programs of all the store's patterns together: the fixes
	// after the one that goes over are skipped. With maxMatchedText it bounds the time one
	// failure's lookup can take (tens of milliseconds at the very worst) and the memory of the
	// compiled patterns (a few hundred KiB).
	MaxStorePrograms = 1000
)

// PatternError is a pattern that is not valid or costs too much.
type PatternError struct {
	Pattern string
	Reason  string
}

func (e *PatternError) Error() string { return e.Reason }

// PatternCost checks pattern against the budget without compiling it, and returns the size of
// its program. It parses the pattern (cheap: the parser keeps repeats as counts), refuses repeat
// counts over MaxPatternRepeat, and bounds the program from the parse tree, every repeat
// expanded: an upper bound of what syntax.Compile makes of it (FuzzPattern checks that it is
// never under), computed in microseconds where compiling a pattern at the limit takes a
// hundred, and a hostile one seconds and megabytes.
func PatternCost(pattern string) (int, error) {
	re, err := syntax.Parse(pattern, syntax.Perl)
	if err != nil {
		return 0, &PatternError{pattern, fmt.Sprintf("not a valid regexp: %v", err)}
	}
	if r := maxRepeat(re); r > MaxPatternRepeat {
		return 0, &PatternError{pattern, fmt.Sprintf("too complex: a repeat count of %d is over the limit of %d: use * or + instead", r, MaxPatternRepeat)}
	}
	n := estimateProgram(re)
	if n > MaxPatternProgram {
		return n, &PatternError{pattern, fmt.Sprintf("too complex: up to %d regexp instructions, over the limit of %d (fewer counted repeats {n,m}, alternatives and character classes)", n, MaxPatternProgram)}
	}
	return n, nil
}

// CompilePattern compiles a pattern that is within the budget.
func CompilePattern(pattern string) (*regexp.Regexp, int, error) {
	n, err := PatternCost(pattern)
	if err != nil {
		return nil, n, err
	}
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil, n, &PatternError{pattern, fmt.Sprintf("not a valid regexp: %v", err)}
	}
	return re, n, nil
}

// maxRepeat is the largest count of a counted repeat in re.
func maxRepeat(re *syntax.Regexp) int {
	m := 0
	if re.Op == syntax.OpRepeat {
		m = max(re.Min, re.Max)
	}
	for _, s := range re.Sub {
		m = max(m, maxRepeat(s))
	}
	return m
}

// estimateProgram is an upper bound of the size of re's program: its instructions, plus the
// program's fail and match instructions.
func estimateProgram(re *syntax.Regexp) int { return satAdd(estimate(re), 2) }

// estimate is an upper bound of the instructions re compiles to, every repeat expanded,
// saturating instead of overflowing.
func estimate(re *syntax.Regexp) int {
	sum := func(subs []*syntax.Regexp, extra int) int {
		n := extra
		for _, s := range subs {
			n = satAdd(n, estimate(s))
		}
		return n
	}
	switch re.Op {
	case syntax.OpLiteral:
		return max(1, len(re.Rune))
	case syntax.OpConcat:
		return sum(re.Sub, 0)
	case syntax.OpAlternate:
		return sum(re.Sub, len(re.Sub))
	case syntax.OpCapture:
		return sum(re.Sub, 2)
	case syntax.OpStar, syntax.OpPlus, syntax.OpQuest:
		return sum(re.Sub, 2)
	case syntax.OpRepeat:
		sub := satAdd(sum(re.Sub, 0), 1)
		copies := re.Max
		if copies < 0 { // {n,}: n copies and a star
			copies = re.Min + 1
		}
		return satAdd(satMul(sub, copies), 2)
	}
	return 1 + sum(re.Sub, 0)
}

func satAdd(a, b int) int {
	if a > math.MaxInt32-b {
		return math.MaxInt32
	}
	return a + b
}

func satMul(a, b int) int {
	if b != 0 && a > math.MaxInt32/b {
		return math.MaxInt32
	}
	return a * b
}

const overStoreBudget = "brings the store's patterns over"

// boundPatterns skips the fixes whose patterns would bring the store's programs over
// MaxStorePrograms, in order: the entries first in the store (the newest taught) are kept.
func boundPatterns(fixes []LearnedFix, warns []Warning) ([]LearnedFix, []Warning) {
	total := 0
	out := fixes[:0]
	for _, l := range fixes {
		if l.Match.Pattern != "" {
			if total+l.program > MaxStorePrograms {
				name := fmt.Sprintf("%q", l.ID)
				if l.ID == "" {
					name = fmt.Sprintf("with pattern %q", Text(l.Match.Pattern, 60))
				}
				warns = append(warns, Warning{Key: LearnedFixesKey, Entry: name, Err: fmt.Sprintf(
					"its pattern (%d regexp instructions) "+overStoreBudget+" their limit of %d instructions together: remove old entries or use simpler patterns",
					l.program, MaxStorePrograms)})
				continue
			}
			total += l.program
		}
		out = append(out, l)
	}
	return out, warns
}

// OverPatternBudget counts the warnings of a decoded store about its patterns' total budget:
// Teach refuses an entry that would add one.
func OverPatternBudget(warns []Warning) int {
	n := 0
	for _, w := range warns {
		if w.Key == LearnedFixesKey && strings.Contains(w.Err, overStoreBudget) {
			n++
		}
	}
	return n
}
