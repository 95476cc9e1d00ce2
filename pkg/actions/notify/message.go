package notify

import (
	"fmt"
	"strings"

	"github.com/release-to-prod/release-to-prod/pkg/step/commit"
	"github.com/release-to-prod/release-to-prod/pkg/step/knowledge"
	"github.com/release-to-prod/release-to-prod/pkg/step/outcome"
)

// Outcome is what happened to the release; the vocabulary and Decide live in package outcome,
// shared with create-release and record-history. This package only presents it.
type Outcome = outcome.Outcome

// clip returns the first n characters of s.
func clip(s string, n int) string {
	i := 0
	for j := range s {
		if i == n {
			return s[:j] + ellipsis
		}
		i++
	}
	return s
}

// Notification is what a message reports. Every string is a raw value from the pipeline; Build
// cleans, bounds and escapes them.
type Notification struct {
	Outcome Outcome
	// Note qualifies the outcome (from Decide).
	Note           string
	ReleaseStatus  string
	Component      string
	Application    string
	Namespace      string
	Release        string
	CommitSHA      string
	CommitURL      string // link for the SHA; no link when empty
	ImageDigest    string
	GateSummary    string // e.g. "image ✓, konflux ✓, alerts ✗"
	FailureCause   string
	FailureFix     string
	PipelineRunURL string
	// KnownIssues are the team's active known issues (check-known-issues' KNOWN_ISSUES), one per
	// line; shown in every variant, since they may explain a failure or warn of one.
	KnownIssues string
	// Record says what went wrong recording the run (a refused ConfigMap write, a history
	// step that failed); empty when the record was made. The outcome stands either way.
	Record string
}

// Bounds of the values in a message, far below Slack's limits: a notification is read at a
// glance, and the whole message (about 10 blocks) stays under every limit whatever the input.
const (
	maxName     = 200 // component, application, namespace, release
	maxImage    = 300
	maxGates    = 600
	maxGateRows = 12
	maxAdvice   = 1200 // cause, fix
	maxAdvRows  = 15
	maxNote     = 300
	maxFallback = 400
	maxKnown    = 800
	maxKnownRow = 8
)

// title is the header without its emoji; it is also the start of the fallback text.
func (n Notification) title(component string) string {
	switch n.Outcome {
	case outcome.Released:
		return "Released " + component
	case outcome.NothingToRelease:
		return "Already released: " + component
	case outcome.InputRejected:
		return "Release rejected (invalid input): " + component
	case outcome.RunCancelled:
		return "Release run cancelled: " + component
	case outcome.RunTimedOutBeforeRelease:
		return "Release run timed out: " + component
	case outcome.RightMissing:
		return "Release run not permitted: " + component
	case outcome.ReleaseCreated:
		return "Release created: " + component
	case outcome.DryRunPassed:
		return "Dry run passed: " + component
	case outcome.BlockedByGate:
		return "Release blocked: " + component
	case outcome.DryRunWouldBlock:
		return "Dry run blocked: " + component
	case outcome.ReleaseDoubtful:
		return "Release doubtful, may be in production: " + component
	case outcome.ReleaseFailed:
		if strings.EqualFold(strings.TrimSpace(n.ReleaseStatus), "TimedOut") {
			return "Release timed out: " + component
		}
		return "Release failed: " + component
	}
	return "Not released: " + component
}

func emoji(o Outcome) string {
	switch o {
	case outcome.Released:
		return ":rocket:"
	case outcome.NothingToRelease:
		return ":white_check_mark:"
	case outcome.DryRunPassed:
		return ":test_tube:"
	case outcome.ReleaseCreated:
		return ":hourglass_flowing_sand:"
	case outcome.NotReleased:
		return ":warning:"
	case outcome.ReleaseDoubtful:
		return ":rotating_light:"
	}
	return ":x:"
}

func (n Notification) status() string {
	switch n.Outcome {
	case outcome.Released:
		return "Released to production"
	case outcome.NothingToRelease:
		return "Already released, nothing to do"
	case outcome.ReleaseCreated:
		return "Release created, outcome not awaited: not released yet"
	case outcome.DryRunPassed:
		return "Dry run: every gate passed, nothing released"
	case outcome.BlockedByGate:
		return "Blocked by a gate, nothing released"
	case outcome.DryRunWouldBlock:
		return "Dry run: a gate would block the release"
	case outcome.ReleaseFailed:
		return "The Release was created and did not succeed"
	case outcome.InputRejected:
		return "Rejected before any gate ran: a param is not valid, nothing was attempted"
	case outcome.RunCancelled:
		return "Cancelled before anything was released"
	case outcome.RunTimedOutBeforeRelease:
		return "Timed out (Tekton ended the run) before anything was released"
	case outcome.RightMissing:
		return "Stopped: a ServiceAccount of the run lacks a right, nothing was released"
	case outcome.ReleaseDoubtful:
		return "The Release did not succeed, but its content may be in production"
	}
	return "Not released"
}

// defaultAdvice is said when the pipeline passed no cause or fix of its own.
func (n Notification) defaultAdvice() (cause, fix string) {
	switch n.Outcome {
	case outcome.BlockedByGate, outcome.DryRunWouldBlock:
		return "a gate found a problem (see the gate summary)", "open the PipelineRun: the failed task's log says what failed, the likely cause and the fix"
	case outcome.InputRejected:
		return "a param of the run is not valid", "correct the param named in the PipelineRun's preflight log and start the run again"
	case outcome.ReleaseFailed:
		return "the Konflux release pipeline for the Release failed or timed out", "inspect the Release and its release PipelineRun in the managed namespace, then re-run"
	case outcome.RunCancelled:
		return "the PipelineRun was cancelled", "start the run again when it should release"
	case outcome.RunTimedOutBeforeRelease:
		return "the PipelineRun reached its timeouts", "raise the PipelineRun's timeouts (tasks must cover build_wait_timeout and scan_poll_timeout), then start the run again"
	case outcome.RightMissing:
		return "a ServiceAccount of the run was refused by the API server", "apply the project's RBAC (config/tenant-setup.sh) and start the run again"
	case outcome.ReleaseDoubtful:
		return outcome.DoubtfulNote, "check the Release's managed PipelineRun and the production registry; do not release this commit again until then"
	}
	return "the pipeline stopped before releasing", "open the PipelineRun to see which task did not run, then re-run"
}

// Build returns the Block Kit message for n. It always returns a message within Slack's limits.
func Build(n Notification) Message {
	headerComponent := textOf(n.Component, MaxHeaderChars-40, 1)
	if headerComponent == "" {
		headerComponent = "release-to-prod"
	}
	blocks := []Block{header(emoji(n.Outcome) + " " + n.title(headerComponent))}
	facts, shortSHA := n.facts()
	blocks = append(blocks, facts)
	blocks = append(blocks, n.details()...)
	blocks = append(blocks, n.footer())
	return Message{Text: n.fallback(shortSHA), Blocks: blocks}
}

// facts is the section of the run's fields; shortSHA is the commit as the fallback names it.
func (n Notification) facts() (block Block, shortSHA string) {
	component := textOf(n.Component, maxName, 1)
	if component == "" {
		component = "(component not given)"
	}
	status := Escape(n.status())
	if n.Note != "" {
		status += " (" + textOf(n.Note, maxNote, 1) + ")"
	}
	fields := []Text{mrkdwn("*Status*\n" + status), mrkdwn("*Component*\n" + component)}
	for _, f := range []struct{ label, value string }{
		{"Application", n.Application},
		{"Namespace", n.Namespace},
		{"Release", n.Release},
	} {
		if strings.TrimSpace(f.value) != "" {
			fields = append(fields, mrkdwn("*"+f.label+"*\n"+code(f.value, maxName)))
		}
	}
	shortSHA, commitText := commitField(n.CommitSHA, n.CommitURL)
	if commitText != "" {
		fields = append(fields, mrkdwn("*Commit*\n"+commitText))
	}
	return Block{Type: TypeSection, Fields: fields}, shortSHA
}

// details are the sections that only some runs have: the image, the gates, the known issues,
// the history and, when the run failed, its cause and fix.
func (n Notification) details() []Block {
	var blocks []Block
	if strings.TrimSpace(n.ImageDigest) != "" {
		blocks = append(blocks, section("*Image*\n"+code(n.ImageDigest, maxImage)))
	}
	if gates := textOf(n.GateSummary, maxGates, maxGateRows); gates != "" {
		blocks = append(blocks, section("*Gates*\n"+gates))
	}
	if known := knownIssues(n.KnownIssues); known != "" {
		blocks = append(blocks, section("*Known issues* (team knowledge store)\n"+known))
	}
	if rec := textOf(n.Record, maxNote, 2); rec != "" {
		blocks = append(blocks, section("*History*\n"+rec))
	}
	if n.Outcome.Variant() == "failure" {
		cause, fix := n.defaultAdvice()
		if c := textOf(n.FailureCause, maxAdvice, maxAdvRows); c != "" {
			cause = c
		}
		if f := textOf(n.FailureFix, maxAdvice, maxAdvRows); f != "" {
			fix = f
		}
		blocks = append(blocks, Block{Type: TypeDivider}, section("*Cause*\n"+cause), section("*Fix*\n"+fix))
	}
	return blocks
}

func (n Notification) footer() Block {
	ctx := []Text{mrkdwn("release-to-prod")}
	if strings.TrimSpace(n.PipelineRunURL) != "" {
		if l, ok := link(n.PipelineRunURL, "View the PipelineRun"); ok {
			ctx = append(ctx, mrkdwn(l))
		} else {
			ctx = append(ctx, mrkdwn("PipelineRun: "+code(n.PipelineRunURL, maxURL/2)))
		}
	}
	return Block{Type: TypeContext, Elements: ctx}
}

// fallback is built from the raw values and bounded and escaped once, as a whole.
func (n Notification) fallback(shortSHA string) string {
	rawComponent := clip(strings.TrimSpace(n.Component), 100)
	if rawComponent == "" {
		rawComponent = "release-to-prod"
	}
	fallback := n.title(rawComponent)
	if shortSHA != "" {
		fallback += " (commit " + shortSHA + ")"
	}
	if cause := strings.TrimSpace(n.FailureCause); n.Outcome.Variant() == "failure" && cause != "" {
		fallback += ": " + clip(cause, maxNote)
	}
	return textOf(fallback, maxFallback, 1)
}

// commitField shows a valid SHA short (linked when url is usable) and an invalid one quoted, so
// that a bad value is visible without stopping the notification.
func commitField(sha, url string) (short, text string) {
	if strings.TrimSpace(sha) == "" {
		return "", ""
	}
	sha = head(sha, 256) // a SHA is 40 characters; ParseSHA need not see megabytes
	full, err := commit.ParseSHA(sha)
	if err != nil {
		return "", code(fmt.Sprintf("%q", clip(sha, 48)), 80) + " (not a commit SHA)"
	}
	short = full[:7]
	if strings.TrimSpace(url) == "" {
		return short, "`" + short + "`"
	}
	if l, ok := link(url, short); ok {
		return short, l
	}
	return short, "`" + short + "` (commit URL not usable)"
}

// knownIssues is the known issues as plain lines: knowledge.Text neutralises the mrkdwn marks
// (*, _, ~, `) that textOf leaves alone, so that an entry cannot format the message.
func knownIssues(raw string) string {
	var lines []string
	for _, l := range strings.Split(head(raw, maxInput(maxKnown)), "\n") {
		if l = knowledge.Text(l, maxKnown); l != "" {
			lines = append(lines, "• "+l)
		}
	}
	return textOf(strings.Join(lines, "\n"), maxKnown, maxKnownRow)
}
