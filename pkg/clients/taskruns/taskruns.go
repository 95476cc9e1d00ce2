// Package taskruns tells how a release-to-prod run went from its TaskRuns, as the report in the
// Pipeline's finally reads them from the cluster (or, for a local run, from the files the local
// runner writes in the same shape). It is how the report knows why a run stopped when the
// preflight left no results: Tekton skips a finally task whose params name a missing result,
// so the report's params name none, and the TaskRuns say the rest: rejected input, a step
// killed for its memory, an image that cannot be pulled, a pod that was refused, a timeout.
//
// TaskRuns are read as JSON objects (unstructured), not as tektoncd's Go types: the report's
// image stays small.
package taskruns

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/release-to-prod/release-to-prod/pkg/gates/input"
	"github.com/release-to-prod/release-to-prod/pkg/gates/verdict"
	"github.com/release-to-prod/release-to-prod/pkg/step"
)

// PipelineRunLabel is the label Tekton puts on a PipelineRun's TaskRuns; PipelineTaskLabel
// names the pipeline task.
const (
	PipelineRunLabel  = "tekton.dev/pipelineRun"
	PipelineTaskLabel = "tekton.dev/pipelineTask"
)

// TaskRun is what the report needs of one TaskRun.
type TaskRun struct {
	Name         string
	PipelineRun  string // the PipelineRun it belongs to (its PipelineRunLabel)
	PipelineTask string
	Status       string // the Succeeded condition: True, False, Unknown, or "" when none yet
	Reason       string
	Message      string
	Results      map[string]string
	Steps        []Step
	// StartTime is when the TaskRun started (status.startTime, RFC 3339); zero when unknown.
	StartTime time.Time
	// SpecStatusMessage is spec.statusMessage: why the PipelineRun cancelled the TaskRun
	// (TimeoutMessage when for its timeouts). Timeout is spec.timeout ("15s"); Params are
	// spec.params (string values), as the PipelineRun passed them.
	SpecStatusMessage string
	Timeout           string
	Params            map[string]string
	// Env is each step's env (by step name) in the TaskRun's resolved spec (status.taskSpec,
	// else spec.taskSpec): a Pipeline's param propagated into an inline spec is no TaskRun
	// param, only the value substituted there.
	Env map[string]map[string]string
}

// Step is one step's container state.
type Step struct {
	Name     string // step name (without Tekton's "step-" prefix)
	ExitCode int
	Reason   string // terminated: Completed, Error, OOMKilled; waiting: ImagePullBackOff, …
	// TerminationReason is Tekton's for the step: Skipped (a step before it failed), Continued
	// (failed under onError: continue), TimeoutExceeded, or the container's reason.
	TerminationReason string
	Message           string
	Waiting           bool // the container never started
	Results           map[string]string
}

// Parse reads a TaskRun object (as the API server returns it).
func Parse(obj map[string]any) TaskRun {
	tr := TaskRun{Results: map[string]string{}, Params: map[string]string{}}
	meta, _ := obj["metadata"].(map[string]any)
	if spec, ok := obj["spec"].(map[string]any); ok {
		tr.SpecStatusMessage, _ = spec["statusMessage"].(string)
		tr.Timeout, _ = spec["timeout"].(string)
		for _, p := range list(spec["params"]) {
			if name, ok := p["name"].(string); ok {
				tr.Params[name] = value(p["value"])
			}
		}
	}
	tr.Name, _ = meta["name"].(string)
	if labels, ok := meta["labels"].(map[string]any); ok {
		tr.PipelineTask, _ = labels[PipelineTaskLabel].(string)
		tr.PipelineRun, _ = labels[PipelineRunLabel].(string)
	}
	status, _ := obj["status"].(map[string]any)
	tr.Env = stepEnv(status, obj["spec"])
	if v, ok := status["startTime"].(string); ok {
		if t, err := time.Parse(time.RFC3339, v); err == nil {
			tr.StartTime = t
		}
	}
	for _, c := range list(status["conditions"]) {
		if c["type"] == "Succeeded" {
			tr.Status, _ = c["status"].(string)
			tr.Reason, _ = c["reason"].(string)
			tr.Message, _ = c["message"].(string)
		}
	}
	for _, r := range list(status["results"]) {
		if name, ok := r["name"].(string); ok {
			tr.Results[name] = value(r["value"])
		}
	}
	for _, s := range list(status["steps"]) {
		st := Step{Results: map[string]string{}}
		st.Name, _ = s["name"].(string)
		if t, ok := s["terminated"].(map[string]any); ok {
			st.ExitCode = number(t["exitCode"])
			st.Reason, _ = t["reason"].(string)
			st.Message, _ = t["message"].(string)
			st.TerminationReason, _ = s["terminationReason"].(string)
		} else if w, ok := s["waiting"].(map[string]any); ok {
			st.Waiting = true
			st.Reason, _ = w["reason"].(string)
			st.Message, _ = w["message"].(string)
		}
		for _, r := range list(s["results"]) {
			if name, ok := r["name"].(string); ok {
				st.Results[name] = value(r["value"])
			}
		}
		tr.Steps = append(tr.Steps, st)
	}
	return tr
}

// stepEnv reads each step's env from status.taskSpec, else spec.taskSpec; the stepTemplate's
// env applies to every step that does not set the variable itself, as Tekton merges them.
func stepEnv(status map[string]any, spec any) map[string]map[string]string {
	ts, ok := status["taskSpec"].(map[string]any)
	if !ok {
		sp, _ := spec.(map[string]any)
		if ts, ok = sp["taskSpec"].(map[string]any); !ok {
			return nil
		}
	}
	shared := map[string]string{}
	if tmpl, ok := ts["stepTemplate"].(map[string]any); ok {
		for _, e := range list(tmpl["env"]) {
			if n, ok := e["name"].(string); ok {
				shared[n], _ = e["value"].(string)
			}
		}
	}
	out := map[string]map[string]string{}
	for _, st := range list(ts["steps"]) {
		name, _ := st["name"].(string)
		env := map[string]string{}
		for k, v := range shared {
			env[k] = v
		}
		for _, e := range list(st["env"]) {
			if n, ok := e["name"].(string); ok {
				env[n], _ = e["value"].(string)
			}
		}
		out[name] = env
	}
	return out
}

func list(v any) []map[string]any {
	items, _ := v.([]any)
	out := make([]map[string]any, 0, len(items))
	for _, it := range items {
		if m, ok := it.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

// value reads a result value: a string, or (array and object results) its JSON.
func value(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	b, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	return string(b)
}

func number(v any) int {
	switch n := v.(type) {
	case float64:
		return int(n)
	case int64:
		return int(n)
	case int:
		return n
	}
	return 0
}

// ReadDir reads the TaskRuns the local runner wrote for the PipelineRun pipelineRun: one JSON
// object per file. Two runs may share a work folder (--workdir), so the folder can hold the
// TaskRuns of both: only those labelled with pipelineRun are read, as the cluster's label
// selector would. An empty pipelineRun reads them all.
func ReadDir(dir, pipelineRun string) ([]TaskRun, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, fmt.Errorf("listing TaskRuns in %s: %w", dir, err)
	}
	sort.Strings(files)
	var out []TaskRun
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("reading TaskRun: %w", err)
		}
		var obj map[string]any
		if err := json.Unmarshal(b, &obj); err != nil {
			return nil, fmt.Errorf("TaskRun %s: %w", f, err)
		}
		if tr := Parse(obj); pipelineRun == "" || tr.PipelineRun == pipelineRun {
			out = append(out, tr)
		}
	}
	return out, nil
}

// Started is when the first of trs started: when the run started, to the second, as far as its
// TaskRuns tell; zero when none says.
func Started(trs []TaskRun) time.Time {
	var first time.Time
	for _, tr := range trs {
		if !tr.StartTime.IsZero() && (first.IsZero() || tr.StartTime.Before(first)) {
			first = tr.StartTime
		}
	}
	return first
}

// Find returns the TaskRun of pipeline task name, or nil.
func Find(trs []TaskRun, name string) *TaskRun {
	for i := range trs {
		if trs[i].PipelineTask == name {
			return &trs[i]
		}
	}
	return nil
}

// Stop is why a TaskRun stopped when its steps did not say it themselves.
type Stop struct {
	Rejected bool // invalid input: nothing was attempted
	// Ended is set when Tekton ended the TaskRun (cancelled, or for a timeout): the steps'
	// messages are then Tekton's, not theirs, and say nothing of the release.
	Ended End
	// NotPermitted: a step was refused a right by the API server (it exited
	// step.ExitNotPermitted): a missing RoleBinding, not a gate's finding.
	NotPermitted bool
	Cause, Fix   string // empty when the TaskRun's results tell it
}

// InputStep is the step that checks the run's params first, and the result it describes
// them in.
const (
	InputStep   = "check-input"
	InputResult = string(input.ResultInvalid)
)

// Explain tells why tr (the preflight) stopped, from its steps' states and its condition.
func Explain(tr *TaskRun) Stop {
	if tr == nil {
		return Stop{Cause: "the preflight TaskRun was never created (the PipelineRun failed before it: see its status)",
			Fix: "read the PipelineRun's status message (tkn pipelinerun describe) and fix what it names"}
	}
	if end := endOf(nil, tr); end.Kind != "" {
		// Before any reading of the steps' messages: Tekton replaces the message of every step
		// it stopped with its own ("Step … terminated as pod … is terminated"), which is no
		// step's output.
		return Stop{Ended: end, Cause: end.Cause(), Fix: end.Fix()}
	}
	// The order is the precedence: the first explanation that fits is the cause.
	for _, explain := range []func(*TaskRun) (Stop, bool){stepNotRun, messageCut, stepRefused} {
		if stop, ok := explain(tr); ok {
			return stop
		}
	}
	switch {
	case tr.Reason == "TaskRunResultLargerThanAllowedLimit" || strings.HasPrefix(tr.Reason, "TaskRunResultLargerThanAllowedLimit"):
		return Stop{Cause: "the preflight's results were over what the kubelet keeps of a step's termination message, so they were cut and could not be read: " + oneLine(tr.Message),
			Fix: truncatedFix}
	case tr.Status != "False" || tr.Results[string(verdict.ResultGateSummary)] != "":
		return Stop{} // the verdict ran: its results say why
	}
	return noVerdict(tr)
}

// stepNotRun explains a step that rejected the input, was OOM-killed or whose image could not
// be pulled.
func stepNotRun(tr *TaskRun) (Stop, bool) {
	for _, s := range tr.Steps {
		switch {
		case s.Name == InputStep && s.ExitCode == 2:
			why := s.Results[InputResult]
			if why == "" {
				why = s.Message
			}
			return Stop{Rejected: true, Cause: "invalid input, nothing was attempted: " + oneLine(why),
				Fix: "correct the params named and start the run again"}, true
		case s.Reason == "OOMKilled":
			return Stop{Cause: fmt.Sprintf("step %s was killed for exceeding its memory limit (OOMKilled), so the preflight left no results", s.Name),
				Fix: "re-run; if it happens again, report it with the step's log: its memory limit comes from make bench's measurement"}, true
		case strings.Contains(s.Reason, "ImagePull") || s.Reason == "ErrImagePull" || s.Reason == "InvalidImageName":
			// Waiting while the kubelet retries; Tekton then ends the pod and marks every step
			// TaskRunImagePullFailed, its TaskRun message naming the image.
			why := s.Message
			if tr.Reason == "TaskRunImagePullFailed" || why == "" || strings.HasPrefix(why, "Step ") {
				why = tr.Message
			}
			return Stop{Cause: fmt.Sprintf("a step image cannot be pulled (%s): %s", s.Reason, oneLine(why)),
				Fix: "check that the step image exists and that the namespace can pull it (pull secret of the ServiceAccount, or the bundle's pinned digest)"}, true
		}
	}
	return Stop{}, false
}

// messageCut explains results lost to the kubelet's cut: a termination message it cut is no
// longer JSON, and Tekton (v1.15) drops the step's results, keeps the cut text as the step's
// message and does not fail the TaskRun for it.
func messageCut(tr *TaskRun) (Stop, bool) {
	for _, s := range tr.Steps {
		if m := strings.TrimSpace(s.Message); !s.Waiting && m != "" && !json.Valid([]byte(m)) {
			return Stop{Cause: fmt.Sprintf("the preflight's results were over what the kubelet keeps of a step's termination message (step %s, %d bytes kept), so they were cut and could not be read", s.Name, len(s.Message)),
				Fix: truncatedFix}, true
		}
	}
	return Stop{}, false
}

// stepRefused explains a step the API server refused a right.
func stepRefused(tr *TaskRun) (Stop, bool) {
	for _, s := range tr.Steps {
		if s.ExitCode == step.ExitNotPermitted && !s.Waiting {
			cause := tr.Results[string(verdict.ResultFailureCause)]
			if cause == "" {
				cause = fmt.Sprintf("step %s was refused a right by the Kubernetes API server", s.Name)
			}
			return Stop{NotPermitted: true, Cause: oneLine(cause), Fix: firstNonEmpty(oneLine(tr.Results[string(verdict.ResultFailureFix)]), notPermittedFix)}, true
		}
	}
	return Stop{}, false
}

// noVerdict explains a TaskRun that failed without a verdict: it names the step that stopped
// the pod, the first to fail that was neither skipped nor continued past (the entrypoints of
// the steps after it exit 1 without running: the kubelet calls them Error, Tekton Skipped),
// else the TaskRun's own reason.
func noVerdict(tr *TaskRun) Stop {
	for _, s := range tr.Steps {
		if s.ExitCode != 0 && !s.Waiting && s.Reason != "Skipped" && s.TerminationReason != "Skipped" && s.TerminationReason != "Continued" {
			return Stop{Cause: fmt.Sprintf("step %s stopped with exit code %d (%s) and the preflight left no verdict", s.Name, s.ExitCode, s.Reason),
				Fix: "read the step's log in the preflight TaskRun (tkn taskrun logs " + tr.Name + "); a crash is a bug: report it with the log"}
		}
	}
	return Stop{Cause: fmt.Sprintf("the preflight stopped without a verdict (%s): %s", tr.Reason, oneLine(tr.Message)),
		Fix: "read the preflight TaskRun's status and log (tkn taskrun describe " + tr.Name + ")"}
}

const notPermittedFix = "apply the project's RBAC to the namespace (config/tenant-setup.sh <namespace>, as a tenant admin) and bind the ServiceAccounts per task through the PipelineRun's taskRunSpecs; see config/rbac/README.md"

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

const truncatedFix = "a bug: report it with the preflight's log (each step is told its share in RESULTS_BUDGET and must stay within it)"

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 600 {
		s = s[:600] + "…"
	}
	return s
}
