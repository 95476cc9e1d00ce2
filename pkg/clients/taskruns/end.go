package taskruns

import (
	"fmt"
	"strings"
	"time"
)

// What Tekton (v1.15) records when it ends a run, as its reconcilers write it: the TaskRun
// reasons (pkg/apis/pipeline/v1 TaskRunReasonCancelled, TaskRunReasonTimedOut), the message it
// puts in spec.statusMessage of a TaskRun it cancels for the PipelineRun's timeouts
// (TaskRunCancelledByPipelineTimeoutMsg) and the PipelineRun's spec.status values that cancel.
const (
	ReasonCancelled = "TaskRunCancelled"
	ReasonTimedOut  = "TaskRunTimeout"
	TimeoutMessage  = "TaskRun cancelled as the PipelineRun it belongs to has timed out."

	SpecCancelled           = "Cancelled"
	SpecCancelledRunFinally = "CancelledRunFinally"
	SpecStoppedRunFinally   = "StoppedRunFinally"
)

// Kinds of End.
const (
	EndCancelled = "cancelled"
	EndTimedOut  = "timed out"
)

// PipelineRun is what the report needs of its own PipelineRun.
type PipelineRun struct {
	Name string
	// SpecStatus is spec.status: Cancelled, CancelledRunFinally, StoppedRunFinally (or
	// PipelineRunPending); empty while it runs as started.
	SpecStatus string
	// Timeouts are spec.timeouts (Go durations as Tekton writes them, "15s", "1h0m0s").
	PipelineTimeout, TasksTimeout string
}

// ParsePipelineRun reads a PipelineRun object (as the API server returns it).
func ParsePipelineRun(obj map[string]any) PipelineRun {
	var pr PipelineRun
	meta, _ := obj["metadata"].(map[string]any)
	pr.Name, _ = meta["name"].(string)
	spec, _ := obj["spec"].(map[string]any)
	pr.SpecStatus, _ = spec["status"].(string)
	if t, ok := spec["timeouts"].(map[string]any); ok {
		pr.PipelineTimeout, _ = t["pipeline"].(string)
		pr.TasksTimeout, _ = t["tasks"].(string)
	}
	return pr
}

// cancels reports whether spec.status is one that cancels or stops the run.
func (pr *PipelineRun) cancels() bool {
	if pr == nil {
		return false
	}
	switch pr.SpecStatus {
	case SpecCancelled, SpecCancelledRunFinally, SpecStoppedRunFinally:
		return true
	}
	return false
}

// End is how Tekton ended a run that did not end by itself: cancelled, or for a timeout.
type End struct {
	Kind string // EndCancelled, EndTimedOut; empty: the run was not ended by Tekton
	// How is the PipelineRun's spec.status that cancelled it, when known.
	How string
	// After is the timeout that ended it ("15s"), when known.
	After string
	// Task and Step are the pipeline task and its step that were running; Doing says what
	// that step was doing, when its params tell ("waited for the build").
	Task, Step, Doing string
}

// Ended tells whether and how Tekton ended the run of trs: a TaskRun it cancelled or timed out
// (its reason, and spec.statusMessage for the PipelineRun's timeouts), else the PipelineRun's
// spec.status (StoppedRunFinally lets the running TaskRun finish and starts no other). pr may
// be nil (not readable, or a local run).
func Ended(pr *PipelineRun, trs []TaskRun) End {
	for i := range trs {
		if e := endOf(pr, &trs[i]); e.Kind != "" {
			return e
		}
	}
	if pr.cancels() {
		return End{Kind: EndCancelled, How: pr.SpecStatus}
	}
	return End{}
}

// endOf tells how Tekton ended tr, if it did.
func endOf(pr *PipelineRun, tr *TaskRun) End {
	if tr == nil || tr.Status != "False" {
		return End{}
	}
	var e End
	switch {
	case tr.Reason == ReasonTimedOut || (tr.Reason == ReasonCancelled && tr.SpecStatusMessage == TimeoutMessage):
		// Either reconciler may get there first when the PipelineRun's timeouts run out: the
		// PipelineRun's (cancelling the TaskRun with TimeoutMessage) or the TaskRun's own, since
		// the PipelineRun gives each TaskRun what is left of its timeouts as spec.timeout. The
		// Pipeline sets no timeout per task, so the PipelineRun's is the one that ran out.
		e = End{Kind: EndTimedOut, After: tr.Timeout}
		if pr != nil {
			e.After = firstNonEmpty(firstNonEmpty(pr.TasksTimeout, pr.PipelineTimeout), tr.Timeout)
		}
	case tr.Reason == ReasonCancelled:
		e = End{Kind: EndCancelled}
		if pr.cancels() {
			e.How = pr.SpecStatus
		}
	default:
		return End{}
	}
	e.Task = firstNonEmpty(tr.PipelineTask, tr.Name)
	// Tekton marks every step still running (or waiting) when it stops the pod with the
	// TaskRun's reason; the steps of a pod run one after the other, so the first of them is
	// the one that was at work.
	for _, s := range tr.Steps {
		if s.TerminationReason == tr.Reason || (s.Reason == tr.Reason && s.TerminationReason == "") {
			e.Step = s.Name
			e.Doing = doing(s.Name, tr.Params, tr.Env[s.Name])
			break
		}
	}
	return e
}

// waits are the steps that wait on purpose, and the param that makes them: a run that ends
// during such a wait was most likely ended by it.
var waits = map[string]struct{ param, doing string }{
	"check-image":           {"build_wait_timeout", "waited for the build"},
	"check-vulnerabilities": {"scan_poll_timeout", "waited for the vulnerability scan"},
	"create-release":        {"release_timeout", "waited for the Release"},
}

// doing reads the wait's param from the TaskRun's params, else from the step's env (the
// setting of the same name in upper case), where a param propagated into an inline spec is.
func doing(stepName string, params, env map[string]string) string {
	w, ok := waits[stepName]
	if !ok {
		return ""
	}
	v, ok := params[w.param]
	if !ok {
		v = env[strings.ToUpper(w.param)]
	}
	if d, err := time.ParseDuration(strings.TrimSpace(v)); err == nil && d > 0 {
		return w.doing
	}
	return ""
}

// Cause is the end in words: "timed out after 15s while check-image waited for the build".
func (e End) Cause() string {
	if e.Kind == "" {
		return ""
	}
	s := "the run was " + e.Kind
	if e.Kind == EndTimedOut {
		s = "the run timed out"
		if e.After != "" {
			s += " after " + e.After
		}
	} else if e.How != "" {
		s += " (" + e.How + ")"
	}
	switch {
	case e.Step != "" && e.Doing != "":
		s += " while " + e.Step + " " + e.Doing
	case e.Step != "":
		s += fmt.Sprintf(" while step %s of %s ran", e.Step, e.Task)
	case e.Task != "":
		s += " before " + e.Task + " started its steps"
	default:
		s += " between tasks"
	}
	return s + ": nothing was released"
}

// Fix is what to do about the end.
func (e End) Fix() string {
	switch e.Kind {
	case EndTimedOut:
		return "raise the PipelineRun's timeouts (timeouts.tasks must cover build_wait_timeout and scan_poll_timeout), or find what hangs in the step's log; then start the run again"
	case EndCancelled:
		return "nothing to fix if the cancel was meant; start the run again to release"
	}
	return ""
}
