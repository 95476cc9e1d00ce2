// Package verdict is the last step of the preflight TaskRun: the gates run in one pod with
// onError: continue, so that one run reports every gate that blocks; this step reads the exit
// code each gate step left (Tekton's $(steps.step-<name>.exitCode.path)), prints one table and
// fails when any gate failed. A gate whose exit code file is missing did not run, which blocks
// too: the verdict fails closed.
package verdict

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"unicode/utf8"

	"github.com/release-to-prod/release-to-prod/pkg/step"
	"github.com/release-to-prod/release-to-prod/pkg/step/failure"
	"github.com/release-to-prod/release-to-prod/pkg/step/knowledge"
)

// Config is the verdict step's configuration.
type Config struct {
	step.Common
	Gates string `env:"GATES, required" desc:"the gates, comma-separated name=exit-code-file pairs, e.g. image=/tekton/steps/step-check-image/exitCode"`
}

// The verdict's results.
const (
	ResultGateSummary     step.ResultName = "GATE_SUMMARY"
	ResultFailedGates     step.ResultName = "FAILED_GATES"
	ResultFailureCause    step.ResultName = "FAILURE_CAUSE"
	ResultFailureFix      step.ResultName = "FAILURE_FIX"
	ResultUnknownFailures step.ResultName = "UNKNOWN_FAILURES"
)

// Gate is one gate's outcome.
type Gate struct {
	Name     string
	ExitCode int // -1: did not run (no exit code file)
	// Cause and Fix are what the gate's step left in its ADVICE file (see step.AdviceFile),
	// beside its exit code: <step dir>/results/ADVICE.
	Cause, Fix string
	// Unknown is the failure the gate's step could not explain (knowledge.UnmatchedFile), with
	// the fingerprint that teaches it; nil otherwise.
	Unknown *knowledge.Unmatched
}

// Passed reports whether the gate let the release through.
func (g Gate) Passed() bool { return g.ExitCode == 0 }

// Status is the gate's outcome in words.
func (g Gate) Status() string {
	switch g.ExitCode {
	case 0:
		return "passed"
	case -1:
		return "did not run"
	case step.ExitBadArgs:
		return "invalid input (exit 2)"
	case step.ExitNotPermitted:
		return "not permitted (exit 3)"
	case step.ExitMayBeInProduction:
		return "may be in production (exit 4)"
	default:
		return fmt.Sprintf("blocked (exit %d)", g.ExitCode)
	}
}

// ParseGates parses GATES: name=path pairs separated by commas.
func ParseGates(s string) ([][2]string, error) {
	var out [][2]string
	seen := map[string]bool{}
	for _, p := range step.Pairs(s) {
		if !p.OK || p.Value == "" {
			return nil, fmt.Errorf("GATES: %q is not name=exit-code-file", p.Item)
		}
		if seen[p.Name] {
			return nil, fmt.Errorf("GATES: gate %q is listed twice", p.Name)
		}
		seen[p.Name] = true
		out = append(out, [2]string{p.Name, p.Value})
	}
	if len(out) == 0 {
		return nil, errors.New("GATES: no gate given")
	}
	return out, nil
}

// Read returns the outcome of a gate from its exit code file.
func Read(name, path string) (Gate, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Gate{Name: name, ExitCode: -1}, nil
	}
	if err != nil {
		return Gate{}, fmt.Errorf("gate %s: reading its exit code: %w", name, err)
	}
	code, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		code = 128 // Tekton writes a signal name (e.g. "killed") for a cancelled step.
	}
	g := Gate{Name: name, ExitCode: code}
	if code != 0 {
		advice, err := os.ReadFile(filepath.Join(filepath.Dir(path), "results", step.AdviceFile))
		switch {
		case err == nil:
			g.Cause, g.Fix, _ = strings.Cut(strings.TrimSpace(string(advice)), "\n")
		case !errors.Is(err, fs.ErrNotExist):
			return Gate{}, fmt.Errorf("gate %s: reading its advice: %w", name, err)
		}
		// A file that cannot be read only costs the teach hint; the gate still blocks.
		if u, err := knowledge.ReadUnmatched(filepath.Join(filepath.Dir(path), "results")); err == nil && u.Fingerprint != "" {
			g.Unknown = &u
		}
	}
	return g, nil
}

// maxUnknownResult bounds UNKNOWN_FAILURES; a gate whose failure is unknown has a short
// FAILURE_CAUSE line and no FAILURE_FIX line, which leaves it the room.
const maxUnknownResult = 400

// adviceLines lists the failed gates' causes and fixes, one "gate: text" line each. A failure
// nobody explained says its fingerprint and how to teach it.
func adviceLines(gates []Gate, namespace string) (cause, fix []string) {
	var cs, fs []string
	for _, g := range gates {
		if g.Passed() {
			continue
		}
		c := g.Cause
		if c == "" && g.Unknown != nil {
			c = fmt.Sprintf("%s, no known cause yet (fingerprint %s): %s", g.Status(), g.Unknown.Fingerprint, step.Clip(g.Unknown.Message, 120))
			fs = append(fs, g.Name+": "+teachHint(g.Unknown.Fingerprint, namespace))
		}
		if c == "" {
			c = g.Status() + ": see its log"
		}
		cs = append(cs, g.Name+": "+c)
		if g.Fix != "" {
			fs = append(fs, g.Name+": "+g.Fix)
		}
	}
	return cs, fs
}

// FitAdvice returns FAILURE_CAUSE and FAILURE_FIX cut so that, with the other results, they
// fit budget bytes of termination message as Tekton encodes it. The kubelet truncates a
// container's message past its share of the pod's 12288 bytes, which makes the whole TaskRun's
// results unreadable: cut here, line by line so that every failed gate keeps its name and the
// start of its advice; the log keeps every word.
func FitAdvice(others map[step.ResultName]string, causes, fixes []string, budget int) (cause, fix string) {
	cause, fix = strings.Join(causes, "\n"), strings.Join(fixes, "\n")
	size := func() int {
		all := map[step.ResultName]string{ResultFailureCause: cause, ResultFailureFix: fix}
		for k, v := range others {
			all[k] = v
		}
		return step.EncodedSize(all)
	}
	longest := 0
	for _, l := range append(append([]string{}, causes...), fixes...) {
		longest = max(longest, len(l))
	}
	for n := longest; size() > budget && n > 0; n = n * 4 / 5 {
		cause, fix = cutLines(causes, n), cutLines(fixes, n)
	}
	return cause, fix
}

// cutLines cuts each line to about n bytes and joins them, marking a cut once. A line loses its
// middle: its start names the gate, and its end usually says what to conclude ("… does not
// exist: the build for this commit has not run").
func cutLines(lines []string, n int) string {
	out := make([]string, len(lines))
	cut := false
	for i, l := range lines {
		if len(l) > n {
			head, tail := n/3, l[len(l)-(n-n/3):]
			for head > 0 && !utf8.RuneStart(l[head]) {
				head--
			}
			for len(tail) > 0 && !utf8.RuneStart(tail[0]) {
				tail = tail[1:]
			}
			l, cut = l[:head]+"…"+tail, true
		}
		out[i] = l
	}
	s := strings.Join(out, "\n")
	if cut {
		s += " (see the log)"
	}
	return s
}

// teachHint is the command that teaches a failure's cause and fix.
func teachHint(fingerprint, namespace string) string {
	return fmt.Sprintf("once its cause is known, teach it: tkn-local failures teach %s -n %s --cause \"…\" --fix \"…\"", fingerprint, namespace)
}

// Summary is the GATE_SUMMARY result: "image ✓, alerts ✗, …".
func Summary(gates []Gate) string {
	parts := make([]string, len(gates))
	for i, g := range gates {
		mark := "✓"
		if !g.Passed() {
			mark = "✗"
		}
		parts[i] = g.Name + " " + mark
	}
	return strings.Join(parts, ", ")
}

// Run reads every gate's exit code, prints the table, writes GATE_SUMMARY and FAILED_GATES, and
// fails when a gate failed or did not run.
func Run(_ context.Context, s *step.Step, cfg *Config) error {
	gates, failed, err := readGates(cfg.Gates)
	if err != nil {
		return err
	}
	if err := printGates(s, gates); err != nil {
		return err
	}
	others := map[step.ResultName]string{ResultGateSummary: Summary(gates), ResultFailedGates: strings.Join(failed, ",")}
	if err := s.Result(ResultGateSummary, others[ResultGateSummary]); err != nil {
		return err
	}
	if err := s.Result(ResultFailedGates, others[ResultFailedGates]); err != nil {
		return err
	}
	ns := knowledgeNamespace(cfg.KnowledgeFile)
	others[ResultUnknownFailures] = knowledge.EncodeUnmatched(unknownFailures(s, gates, ns), maxUnknownResult)
	if err := s.Result(ResultUnknownFailures, others[ResultUnknownFailures]); err != nil {
		return err
	}
	causes, fixes := adviceLines(gates, ns)
	cause, fix := FitAdvice(others, causes, fixes, s.ResultsBudget())
	if err := s.Result(ResultFailureCause, cause); err != nil {
		return err
	}
	if err := s.Result(ResultFailureFix, fix); err != nil {
		return err
	}
	if len(failed) > 0 {
		return failure.New(failure.GatesFailed, map[string]string{"gates": strings.Join(failed, ", ")},
			"%d of %d gates blocked the release: %s", len(failed), len(gates), strings.Join(failed, ", "))
	}
	s.OK("all %d gates passed", len(gates))
	return nil
}

// readGates reads the gates the setting names (name=exit-code-file pairs), and the names of
// those that failed.
func readGates(setting string) (gates []Gate, failed []string, err error) {
	pairs, err := ParseGates(setting)
	if err != nil {
		return nil, nil, failure.Wrap(failure.InvalidInput, nil, err)
	}
	for _, p := range pairs {
		g, err := Read(p[0], p[1])
		if err != nil {
			return nil, nil, err
		}
		gates = append(gates, g)
		if !g.Passed() {
			failed = append(failed, g.Name)
		}
	}
	return gates, failed, nil
}

// printGates prints the table of the gates, then each failed gate's cause and fix.
func printGates(s *step.Step, gates []Gate) error {
	tw := tabwriter.NewWriter(s.Out(), 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  GATE\tRESULT")
	for _, g := range gates {
		fmt.Fprintf(tw, "  %s\t%s\n", g.Name, g.Status())
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("printing the table: %w", err)
	}
	for _, g := range gates {
		if g.Cause != "" {
			s.Fail("%s: %s", g.Name, g.Cause)
			s.Info("  fix: %s", g.Fix)
		}
	}
	return nil
}

// knowledgeNamespace is the namespace of the team knowledge store for the teach hints; a
// placeholder when the store cannot say, since a hint is advice, not a reason to fail.
func knowledgeNamespace(file string) string {
	ns := "<namespace>"
	if file != "" {
		if k, _, err := knowledge.ReadFile(file); err == nil && k.Namespace != "" {
			ns = k.Namespace
		}
	}
	return ns
}

// unknownFailures prints how to teach a fix for each gate failure of no known cause, and
// returns those failures.
func unknownFailures(s *step.Step, gates []Gate, ns string) []knowledge.Unmatched {
	var unknown []knowledge.Unmatched
	for _, g := range gates {
		if g.Unknown != nil {
			unknown = append(unknown, *g.Unknown)
			s.Info("  %s: no known cause yet: %s", g.Name, teachHint(g.Unknown.Fingerprint, ns))
		}
	}
	return unknown
}
