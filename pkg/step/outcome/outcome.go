// Package outcome is the one vocabulary of what a release run amounts to, shared by
// create-release (its RELEASE_STATUS result), record-history (the history entry) and notify (the
// Slack message). It imports nothing of Kubernetes, so the notify binary stays free of client-go.
package outcome

import (
	"fmt"
	"strings"
)

// Status is the outcome word a step writes to its RELEASE_STATUS result and the history records.
type Status = string

// The statuses.
const (
	// Succeeded: the Release (created by this run, or one of the same Snapshot it waited on)
	// finished with Released=True.
	Succeeded Status = "Succeeded"
	// Failed: the Release finished with Released=False.
	Failed Status = "Failed"
	// TimedOut: the Release had not finished when the step stopped waiting; it keeps running.
	TimedOut Status = "TimedOut"
	// DryRun: nothing created, as asked.
	DryRun Status = "DryRun"
	// AlreadyReleased: a Release of this commit succeeded before; nothing created.
	AlreadyReleased Status = "AlreadyReleased"
	// Created: the Release was created and its outcome not awaited (WAIT=false). It is not a
	// release: the release service may still fail it.
	Created Status = "Created"
	// Blocked: the gates stopped the run before a Release was created.
	Blocked Status = "Blocked"
	// Running: a Release was created and had not finished when the run ended.
	Running Status = "Running"
	// Rejected: a param of the run was not valid; nothing was attempted.
	Rejected Status = "Rejected"
	// Cancelled: the run was cancelled (the PipelineRun's spec.status Cancelled,
	// CancelledRunFinally or StoppedRunFinally) before it released anything.
	Cancelled Status = "Cancelled"
	// RunTimedOut: Tekton ended the run for its timeouts (the PipelineRun's timeouts.tasks or
	// timeouts.pipeline, or a TaskRun's own timeout) before it released anything. TimedOut is
	// the Release's: it was created and had not finished.
	RunTimedOut Status = "RunTimedOut"
	// NotPermitted: a ServiceAccount of the run lacks a right it needs (the API server answered
	// Forbidden); nothing was decided about the commit.
	NotPermitted Status = "NotPermitted"
	// Doubtful: a Release of the commit did not succeed, yet its content may be in production
	// (konflux.Release.Doubt). Never a success and never a reason to release again: a person
	// must check the Release first.
	Doubtful Status = "Doubtful"
)

// Statuses lists every status, for documentation and validation.
var Statuses = []Status{Succeeded, Failed, TimedOut, DryRun, AlreadyReleased, Created, Blocked, Running, Rejected, Cancelled, RunTimedOut, NotPermitted, Doubtful}

// Normalize returns the status s names (any case, surrounding space ignored), or "" and false.
func Normalize(s string) (Status, bool) {
	s = strings.TrimSpace(s)
	for _, st := range Statuses {
		if strings.EqualFold(s, st) {
			return st, true
		}
	}
	return "", false
}

// IsReleased reports whether the status says the commit is in production.
func IsReleased(s Status) bool { return s == Succeeded || s == AlreadyReleased }

// MayBeInProduction reports whether the commit may be in production: released, or Doubtful.
// Judging the order of releases counts both, so that nothing older goes out after it.
func MayBeInProduction(s Status) bool { return IsReleased(s) || s == Doubtful }

// Outcome is what happened to the release, as a notification tells it.
type Outcome int

// The outcomes. Decide maps the pipeline's statuses onto them.
const (
	Released                 Outcome = iota // a Release was created (or waited on) and succeeded
	NothingToRelease                        // the commit had been released before; nothing done
	DryRunPassed                            // every gate passed; nothing released, as asked
	BlockedByGate                           // a gate blocked the release; nothing released
	DryRunWouldBlock                        // a dry run in which a gate would have blocked
	ReleaseFailed                           // the Release was created and failed or timed out
	NotReleased                             // the pipeline stopped (cancelled, timed out, skipped) without a release
	ReleaseCreated                          // the Release was created; its outcome was not awaited
	InputRejected                           // a param was not valid: nothing was attempted
	RunCancelled                            // the run was cancelled before it released anything
	RunTimedOutBeforeRelease                // Tekton's timeouts ended the run before it released anything
	RightMissing                            // a ServiceAccount of the run may not do what the run needs
	ReleaseDoubtful                         // a Release did not succeed but may be in production: a person must check
	numOutcomes
)

// Count is the number of outcomes (for fuzzing every value).
const Count = int(numOutcomes)

// Variant is the kind of message an outcome gets: "success", "failure", "dry-run" or
// "pending". Failure messages carry the cause and the fix.
func (o Outcome) Variant() string {
	switch o {
	case Released, NothingToRelease:
		return "success"
	case DryRunPassed:
		return "dry-run"
	case ReleaseCreated:
		return "pending"
	}
	return "failure"
}

func (o Outcome) String() string {
	if o < 0 || o >= numOutcomes {
		return fmt.Sprintf("outcome(%d)", int(o))
	}
	return [...]string{"released", "already-released", "dry-run", "blocked", "dry-run-blocked", "release-failed", "not-released", "release-created", "rejected", "cancelled", "timed-out", "not-permitted", "release-doubtful"}[o]
}

// DoubtfulNote is what every report of a Doubtful release says.
const DoubtfulNote = "the Release did not succeed but its content may be in production: a person must check the Release before anything is released again"

// Decide maps the pipeline's statuses to an outcome. status is $(tasks.status) of the Pipeline's
// finally section (Succeeded, Failed, Completed, None); releaseStatus is a Status (create-release's
// or record-history's RELEASE_STATUS), or empty when neither ran. The Release's own status
// wins, because it says what happened in production: a Release that succeeded is announced as
// released even if a later task failed. note explains an unusual combination or an unknown
// value, for the message and the log; it is empty otherwise.
//
//	RELEASE_STATUS   STATUS                 DRY_RUN  outcome
//	Succeeded        any                    any      Released (note when STATUS is Failed)
//	AlreadyReleased  any                    any      NothingToRelease
//	Created          any                    any      ReleaseCreated (outcome not awaited)
//	Running          any                    any      NotReleased (note: still running in Konflux)
//	Rejected         any                    any      InputRejected
//	Cancelled        any                    any      RunCancelled
//	RunTimedOut      any                    any      RunTimedOutBeforeRelease
//	NotPermitted     any                    any      RightMissing
//	Doubtful         any                    any      ReleaseDoubtful (note: may be in production)
//	Blocked          as empty
//	Failed/TimedOut  any                    any      ReleaseFailed
//	DryRun or empty  Failed                 true     DryRunWouldBlock
//	DryRun           Failed                 false    DryRunWouldBlock
//	empty            Failed                 false    BlockedByGate
//	DryRun or empty  Succeeded/Completed/"" true     DryRunPassed
//	DryRun           Succeeded/Completed/"" false    DryRunPassed
//	empty            Succeeded              false    Released
//	empty            Completed              false    NotReleased (the release task was skipped)
//	any other        None, empty, unknown   any      NotReleased
func Decide(status, releaseStatus string, dryRun bool) (o Outcome, note string) {
	var d decision
	st := d.pipelineStatus(status)
	rs, known := Normalize(releaseStatus)
	if !known && strings.TrimSpace(releaseStatus) != "" {
		d.note(fmt.Sprintf("unknown release status %s", quoted(strings.TrimSpace(releaseStatus))))
	}
	if o, decided := d.byRelease(rs, st); decided {
		return d.done(o)
	}
	return d.done(d.byPipeline(st, dryRun || rs == DryRun))
}

// decision gathers the notes of one Decide, in the order they are found.
type decision struct{ notes []string }

func (d *decision) note(n string) { d.notes = append(d.notes, n) }

func (d *decision) done(o Outcome) (Outcome, string) { return o, strings.Join(d.notes, "; ") }

// pipelineStatus is status in lower case, "none" (with a note) when it is not one Tekton gives.
func (d *decision) pipelineStatus(status string) string {
	status = strings.TrimSpace(status)
	st := strings.ToLower(status)
	switch st {
	case "", "succeeded", "failed", "completed", "none":
	default:
		d.note(fmt.Sprintf("unknown pipeline status %s", quoted(status)))
		st = "none"
	}
	return st
}

// byRelease decides from the release status rs when it says how the run ended; false when
// the pipeline status st must.
func (d *decision) byRelease(rs Status, st string) (Outcome, bool) {
	switch rs {
	case Succeeded:
		if st == "failed" {
			d.note("a task after the release failed: see the PipelineRun")
		}
		return Released, true
	case AlreadyReleased:
		return NothingToRelease, true
	case Failed, TimedOut:
		return ReleaseFailed, true
	case Created:
		d.note("the Release was created and its outcome not awaited: follow it in Konflux")
		return ReleaseCreated, true
	case Running:
		// The run ended while the Release was running.
		d.note("the Release was created and is still running in Konflux")
		return NotReleased, true
	case Rejected:
		return InputRejected, true
	case Cancelled:
		return RunCancelled, true
	case RunTimedOut:
		return RunTimedOutBeforeRelease, true
	case NotPermitted:
		return RightMissing, true
	case Doubtful:
		d.note(DoubtfulNote)
		return ReleaseDoubtful, true
	case Blocked:
		// record-history's word for a run the gates stopped: decided by the pipeline status.
		return 0, false
	}
	return 0, false
}

// byPipeline decides from the pipeline status st, in a dry run or not.
func (d *decision) byPipeline(st string, dry bool) Outcome {
	switch {
	case st == "failed" && dry:
		return DryRunWouldBlock
	case st == "failed":
		return BlockedByGate
	case dry && (st == "succeeded" || st == "completed" || st == ""):
		return DryRunPassed
	case st == "succeeded":
		return Released
	case st == "completed":
		d.note("the pipeline completed but the release task was skipped")
		return NotReleased
	case st == "none":
		d.note("the pipeline did not finish: cancelled, timed out, or a task still pending")
		return NotReleased
	default: // no status at all
		d.note("no pipeline or release status was given")
		return NotReleased
	}
}

// quoted shows a value Go-quoted and cut to 40 characters.
func quoted(s string) string {
	if r := []rune(s); len(r) > 40 {
		s = string(r[:40]) + "…"
	}
	return fmt.Sprintf("%q", s)
}
