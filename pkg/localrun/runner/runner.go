// Package runner runs a Tekton Pipeline of this repository on the local machine: each step is a
// local process (the step binary its image names), each TaskRun a folder, each workspace a
// local folder. Everything Tekton decides — the DAG and its scheduling, when expressions,
// param / context / workspace / result substitution, StepAction resolution, $(tasks.status),
// skips, the PipelineRun's condition and results — is decided by tektoncd/pipeline's own code,
// through the adapter in package tekton (reconciler.go). This package does what a pod and
// Tekton's entrypoint do: run the steps in order, substitute step results at run time, honour
// onError, write exit-code files and hold the results to the termination-message budget.
//
// The TaskRuns are also written as JSON objects in the shape the API server returns (status
// conditions, results, step states) to <work folder>/taskruns, which steps find as TASKRUNS_DIR:
// the report in finally reads them there as it reads them from the cluster.
//
// Differences from a cluster, on purpose: TaskRuns that could run in parallel run one after
// the other (logs stay readable; the order is one the DAG allows); a step's environment is
// its env plus PATH, HOME, KUBECONFIG, proxy and CA settings of the caller; securityContext,
// CPU and timeouts other than a step's own are not enforced. A step's limits.memory is, when
// the peak-rss launcher sits beside the step binaries (make build puts it there): over it, the
// step is killed and reported OOMKilled, as on a node. A termination message over the kubelet's
// share fails the TaskRun here, where a node's Tekton silently drops the step's results.
// test/cluster/world's TestPipelineOnNode holds the rest to what a node does.
package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	prr "github.com/tektoncd/pipeline/pkg/reconciler/pipelinerun/resources"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"knative.dev/pkg/apis"

	"github.com/release-to-prod/release-to-prod/pkg/build/tekton"
	"github.com/release-to-prod/release-to-prod/pkg/clients/taskruns"
	"github.com/release-to-prod/release-to-prod/pkg/step"
)

// ImagePrefix is the repository of the project's step images; an image
// ImagePrefix+"<name>:<version>" (or @digest) runs the local binary <BinDir>/<name>.
const ImagePrefix = tekton.StepImageRepository

// Workspace is a local folder bound to a Pipeline workspace.
type Workspace struct {
	// Kind is "secret" (a folder holding the secret's files, one per key), "dir" (a folder,
	// shared by the TaskRuns like a PersistentVolumeClaim) or "emptyDir" (a new empty folder
	// for each TaskRun, as a pod gets).
	Kind string
	Path string
}

// Options configure a run.
type Options struct {
	Repo       *tekton.Repo // Tasks and StepActions the Pipeline refers to
	Pipeline   *v1.Pipeline // the Pipeline to run
	Params     v1.Params    // the PipelineRun's params
	Workspaces map[string]Workspace
	Kubeconfig string            // passed to steps as KUBECONFIG; empty: the caller's KUBECONFIG
	BinDir     string            // folder of the step binaries (default "bin")
	Images     map[string]string // extra image → binary mappings (tests)
	WorkDir    string            // folder for the TaskRuns' files (default: a new temporary folder)
	Name       string            // PipelineRun name (default <pipeline>-local-<time>)
	Out        io.Writer         // the log (default os.Stdout)
	ShowLog    bool              // print the steps' output
	// Namespace is where the TaskRuns' Secret and ConfigMap volumes are read (see
	// mountVolumes); empty: the run's "namespace" param. Objects reads them; nil: the API
	// server of MountKubeconfig (the kubelet's credentials; empty: Kubeconfig's).
	Namespace       string
	Objects         ObjectReader
	MountKubeconfig string
}

// TaskOutcome is what happened to one pipeline task.
type TaskOutcome struct {
	Name     string
	TaskRun  string
	Status   string // Succeeded, Failed, Skipped
	Reason   string // Tekton's: Succeeded, StepFailed, StepOOM, TaskRunImagePullFailed, …
	Message  string
	Started  time.Time
	Duration time.Duration
	Results  []v1.TaskRunResult
	Steps    []StepOutcome
}

// Outcome is what happened to the PipelineRun.
type Outcome struct {
	Name      string
	Condition *apis.Condition
	Results   []v1.PipelineRunResult
	Tasks     []TaskOutcome
	WorkDir   string
}

// Succeeded reports whether the PipelineRun succeeded (Tekton's condition True: all tasks
// succeeded, or some were skipped — "Completed").
func (o *Outcome) Succeeded() bool {
	return o != nil && o.Condition != nil && o.Condition.IsTrue()
}

// Rejected reports whether the run stopped on invalid input: the check-input step exited 2 (the
// steps' exit code for a configuration that is not valid), so nothing after it was attempted.
func (o *Outcome) Rejected() bool {
	if o == nil {
		return false
	}
	for _, t := range o.Tasks {
		for _, s := range t.Steps {
			if s.Name == taskruns.InputStep && s.Status == "Failed" && s.ExitCode == 2 {
				return true
			}
		}
	}
	return false
}

// Run runs the Pipeline. The returned error is for a run that could not happen (invalid
// Pipeline or params, unknown image, …); a PipelineRun that ran and failed returns an Outcome
// whose Succeeded is false.
func Run(ctx context.Context, o Options) (*Outcome, error) {
	if err := o.setDefaults(); err != nil {
		return nil, err
	}
	bindings, err := o.bindWorkspaces()
	if err != nil {
		return nil, err
	}
	pr, err := o.Repo.NewPipelineRun(ctx, o.Pipeline, o.Name, o.Params, bindings)
	if err != nil {
		return nil, fmt.Errorf("PipelineRun %s: %w", o.Name, err)
	}
	if err := o.checkImages(ctx, pr); err != nil {
		return nil, err
	}
	out := &Outcome{Name: o.Name, WorkDir: o.WorkDir}
	fmt.Fprintf(o.Out, "PipelineRun %s (Pipeline %s), files in %s\n", o.Name, o.Pipeline.Name, o.WorkDir)
	if err := o.runTasks(ctx, pr, out); err != nil {
		return out, err
	}
	cond, results, err := pr.Done(ctx)
	out.Condition, out.Results = cond, results
	o.summary(out)
	if err != nil {
		fmt.Fprintf(o.Out, "! %v\n", err)
	}
	if err := o.writePipelineRun(out); err != nil {
		return out, err
	}
	return out, nil
}

// setDefaults fills in the options a caller left empty, making the work folder if needed.
func (o *Options) setDefaults() error {
	if o.Out == nil {
		o.Out = os.Stdout
	}
	// The steps' output, their results and messages hold outside text (alerts, Quay, the
	// history, the store) and reach the terminal through here: escaped, as a step's own are.
	o.Out = step.NewSafeWriter(o.Out)
	if o.BinDir == "" {
		o.BinDir = "bin"
	}
	if o.Name == "" {
		o.Name = fmt.Sprintf("%s-local-%s", o.Pipeline.Name, time.Now().Format("150405"))
	}
	if o.WorkDir == "" {
		d, err := os.MkdirTemp("", o.Name+"-")
		if err != nil {
			return fmt.Errorf("work folder: %w", err)
		}
		o.WorkDir = d
	}
	return nil
}

// bindWorkspaces checks the workspaces' folders, makes their paths absolute (steps run in
// their own folder) and returns the PipelineRun's bindings for them.
func (o *Options) bindWorkspaces() ([]v1.WorkspaceBinding, error) {
	var bindings []v1.WorkspaceBinding
	for _, name := range tekton.Names(o.Workspaces) {
		w := o.Workspaces[name]
		switch w.Kind {
		case "secret", "dir":
			if st, err := os.Stat(w.Path); err != nil || !st.IsDir() {
				return nil, fmt.Errorf("workspace %s: %s=%s is not a folder", name, w.Kind, w.Path)
			}
			abs, err := filepath.Abs(w.Path)
			if err != nil {
				return nil, fmt.Errorf("workspace %s: %w", name, err)
			}
			w.Path = abs
			o.Workspaces[name] = w
		case "emptyDir":
		default:
			return nil, fmt.Errorf("workspace %s: unknown kind %q (secret, dir or emptyDir)", name, w.Kind)
		}
		// The binding's volume only matters to Tekton as "bound"; the folder is ours.
		bindings = append(bindings, v1.WorkspaceBinding{Name: name, EmptyDir: &emptyDir})
	}
	return bindings, nil
}

// checkImages maps every step image of the run to a binary before anything runs: a typo
// fails fast.
func (o *Options) checkImages(ctx context.Context, pr *tekton.PipelineRun) error {
	for _, rpt := range pr.Facts.State {
		tr, spec, err := pr.TaskRun(ctx, rpt, func(string) (string, bool) { return o.WorkDir, true })
		if err != nil {
			return err
		}
		for _, s := range spec.Steps {
			if _, err := o.binary(s.Image); err != nil {
				return fmt.Errorf("pipeline task %s (TaskRun %s), step %s: %w", rpt.PipelineTask.Name, tr.Name, s.Name, err)
			}
		}
	}
	return nil
}

// runTasks runs the pipeline tasks in the order Tekton's DAG gives them, recording each (and
// each skipped one) in out, until none is left to run.
func (o *Options) runTasks(ctx context.Context, pr *tekton.PipelineRun, out *Outcome) error {
	for {
		next, skipped, err := pr.Next()
		if err != nil {
			return err
		}
		for _, s := range skipped {
			fmt.Fprintln(o.Out, skipLine(s))
			out.Tasks = append(out.Tasks, TaskOutcome{Name: s.Name, Status: "Skipped", Reason: s.Reason})
		}
		if len(next) == 0 {
			return nil
		}
		for _, rpt := range next {
			t, err := o.runPipelineTask(ctx, pr, rpt)
			if err != nil {
				return err
			}
			out.Tasks = append(out.Tasks, t)
			if err := o.writeTaskRun(t); err != nil {
				return err
			}
		}
	}
}

// runPipelineTask runs one pipeline task's TaskRun, its emptyDir workspaces made in its own
// folder, and tells Tekton's state how it ended.
func (o *Options) runPipelineTask(ctx context.Context, pr *tekton.PipelineRun, rpt *prr.ResolvedPipelineTask) (TaskOutcome, error) {
	folder := filepath.Join(o.WorkDir, rpt.TaskRunNames[0])
	dirs := map[string]string{}
	local := func(ws string) (string, bool) {
		d, empty, ok := localWorkspace(o.Workspaces, folder, ws)
		if empty {
			dirs[ws] = d
		}
		return d, ok
	}
	tr, spec, err := pr.TaskRun(ctx, rpt, local)
	if err != nil {
		return TaskOutcome{}, err
	}
	if spec, err = o.mountVolumes(ctx, tr.Name, spec); err != nil {
		return TaskOutcome{}, fmt.Errorf("TaskRun %s: %w", tr.Name, err)
	}
	for _, d := range dirs {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return TaskOutcome{}, fmt.Errorf("workspace folder: %w", err)
		}
	}
	t := o.runTaskRun(ctx, rpt.PipelineTask.Name, tr.Name, spec)
	if err := o.unmountVolumes(tr.Name); err != nil {
		return TaskOutcome{}, err
	}
	pr.Finish(rpt, tr, t.Status == "Succeeded", t.Reason, t.Message, t.Results)
	return t, nil
}

// localWorkspace is the local folder of the Pipeline workspace ws in the TaskRun whose folder
// is taskRunFolder: a bound folder as it is, an emptyDir one of the TaskRun's own (empty is
// true: the caller makes it); ok is false for a workspace that is not bound.
func localWorkspace(ws map[string]Workspace, taskRunFolder, name string) (path string, empty, ok bool) {
	w, ok := ws[name]
	if !ok {
		return "", false, false
	}
	if w.Kind != "emptyDir" {
		return w.Path, false, true
	}
	return filepath.Join(taskRunFolder, "emptydir", name), true, true
}

// skipLine is the log line of a pipeline task Tekton skipped.
func skipLine(s tekton.Skipped) string {
	when := ""
	if s.Reason == string(v1.WhenExpressionsSkip) {
		when = describeWhen(s.When)
	}
	return fmt.Sprintf("- %s skipped: %s%s", s.Name, s.Reason, when)
}

var emptyDir = emptyDirSource()

func describeWhen(w v1.WhenExpressions) string {
	if len(w) == 0 {
		return ""
	}
	var parts []string
	for _, e := range w {
		parts = append(parts, fmt.Sprintf("%q %s %v", e.Input, e.Operator, e.Values))
	}
	return " (when " + strings.Join(parts, " and ") + ")"
}

// stepImage splits a project step image reference, ImagePrefix<name>[:<tag>][@<digest>]; ok is
// false for any other image.
func stepImage(image string) (name, tag string, pinned, ok bool) {
	rest, ok := strings.CutPrefix(image, ImagePrefix)
	if !ok {
		return "", "", false, false
	}
	rest, _, pinned = strings.Cut(rest, "@")
	name, tag, tagged := strings.Cut(rest, ":")
	if !tagged {
		tag = "latest"
	}
	return name, tag, pinned, true
}

// binary returns the local binary an image runs.
func (o *Options) binary(image string) (string, error) {
	if p, ok := o.Images[image]; ok {
		return p, nil
	}
	name, _, _, ok := stepImage(image)
	if !ok {
		return "", fmt.Errorf("image %s is not a step image of this project (%s<step>:<version>): nothing to run it with", image, ImagePrefix)
	}
	if name == "" || strings.Contains(name, "/") {
		return "", fmt.Errorf("image %s: cannot tell the step name", image)
	}
	p, err := filepath.Abs(filepath.Join(o.BinDir, name))
	if err != nil {
		return "", fmt.Errorf("image %s: %w", image, err)
	}
	if st, err := os.Stat(p); err != nil || st.IsDir() {
		return "", fmt.Errorf("image %s: no binary %s (build it: make build)", image, p)
	}
	return p, nil
}

// summary prints the table of tasks, the PipelineRun's status and its results.
func (o *Options) summary(out *Outcome) {
	w := tabwriter.NewWriter(o.Out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "\nTASK\tTASKRUN\tSTATUS\tDURATION\tREASON")
	for _, t := range out.Tasks {
		d := "-"
		if t.Status != "Skipped" {
			d = t.Duration.Round(time.Millisecond).String()
		}
		reason := t.Reason
		if t.Status == "Failed" && t.Message != "" {
			reason += ": " + short(t.Message)
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", t.Name, orDash(t.TaskRun), t.Status, d, reason)
	}
	_ = w.Flush()
	status, reason, msg := "Unknown", "", ""
	if c := out.Condition; c != nil {
		status, reason, msg = string(c.Status), c.Reason, c.Message
	}
	mark := "✗"
	if out.Succeeded() {
		mark = "✓"
	}
	fmt.Fprintf(o.Out, "\n%s PipelineRun %s: %s (succeeded=%s) %s\n", mark, out.Name, reason, status, msg)
	if len(out.Results) > 0 {
		rs := append([]v1.PipelineRunResult{}, out.Results...)
		sort.Slice(rs, func(i, j int) bool { return rs[i].Name < rs[j].Name })
		fmt.Fprintln(o.Out, "Results:")
		for _, r := range rs {
			fmt.Fprintf(o.Out, "  %s = %s\n", r.Name, short(r.Value.StringVal))
		}
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func short(s string) string {
	if len(s) > 160 {
		return s[:157] + "..."
	}
	return s
}

// ErrFailed is returned by callers (the CLI) for a PipelineRun that ran and failed.
var ErrFailed = errors.New("PipelineRun failed")

// TaskRunsDir is the folder of the run's TaskRun objects, below the work folder.
const TaskRunsDir = "taskruns"

// PipelineRunFile is the run's PipelineRun object, below the work folder.
const PipelineRunFile = "pipelinerun.json"

// writePipelineRun writes the PipelineRun as the API server would show it once done: its
// Succeeded condition, skipped tasks and results, so that a run here and one on a cluster can
// be compared field by field.
func (o *Options) writePipelineRun(out *Outcome) error {
	pr := v1.PipelineRun{
		TypeMeta:   metav1.TypeMeta{APIVersion: "tekton.dev/v1", Kind: "PipelineRun"},
		ObjectMeta: metav1.ObjectMeta{Name: out.Name},
	}
	if out.Condition != nil {
		pr.Status.SetCondition(out.Condition)
	}
	pr.Status.Results = out.Results
	for _, t := range out.Tasks {
		if t.Status == "Skipped" {
			pr.Status.SkippedTasks = append(pr.Status.SkippedTasks, v1.SkippedTask{Name: t.Name, Reason: v1.SkippingReason(t.Reason)})
		}
	}
	b, err := json.MarshalIndent(pr, "", "  ")
	if err != nil {
		return fmt.Errorf("PipelineRun %s: %w", out.Name, err)
	}
	if err := os.WriteFile(filepath.Join(o.WorkDir, PipelineRunFile), b, 0o644); err != nil {
		return fmt.Errorf("PipelineRun %s: %w", out.Name, err)
	}
	return nil
}

// stepReasons are the container's terminated reason, as the kubelet gives it, and the step's
// terminationReason, as Tekton gives it.
func stepReasons(s StepOutcome) (reason, termination string) {
	switch s.Status {
	case "Succeeded":
		return "Completed", "Completed"
	case "Continued":
		// The entrypoint records the exit code and exits 0 itself.
		return "Completed", "Continued"
	case "Skipped":
		// The entrypoint of a step after a failed one exits 1 without running it.
		return "Error", "Skipped"
	case "ImagePullFailed":
		return string(v1.TaskRunReasonImagePullFailed), string(v1.TaskRunReasonImagePullFailed)
	}
	if s.Killed {
		// As the kubelet reports a container the kernel's OOM killer ended: a SIGKILL comes
		// from the launcher's limit (or a person), never from the step itself. Tekton gives no
		// terminationReason: it reads it from the termination message the killed entrypoint
		// never wrote.
		return "OOMKilled", ""
	}
	return "Error", "Error"
}

// writeTaskRun writes t as the API server would show the TaskRun (the fields the report
// reads): labels naming the PipelineRun and the pipeline task, the Succeeded condition, the
// results and each step's terminated state.
func (o *Options) writeTaskRun(t TaskOutcome) error {
	status := "True"
	if t.Status != "Succeeded" {
		status = "False"
	}
	results := []map[string]any{}
	for _, r := range t.Results {
		results = append(results, map[string]any{"name": r.Name, "type": "string", "value": r.Value.StringVal})
	}
	steps := []map[string]any{}
	for _, s := range t.Steps {
		var stepResults []map[string]any
		for _, name := range tekton.Names(s.Results) {
			stepResults = append(stepResults, map[string]any{"name": name, "type": "string", "value": s.Results[name]})
		}
		st := map[string]any{"name": s.Name, "container": "step-" + s.Name, "results": stepResults}
		if s.Status == "Running" {
			st["running"] = map[string]any{}
		} else {
			// reason is the kubelet's for the container, terminationReason Tekton's for the
			// step (pkg/pod: Skipped and Continued come from the entrypoint).
			reason, termination := stepReasons(s)
			st["terminated"] = map[string]any{"exitCode": s.ExitCode, "reason": reason, "message": s.Message}
			if termination != "" {
				st["terminationReason"] = termination
			}
		}
		steps = append(steps, st)
	}
	obj := map[string]any{
		"apiVersion": "tekton.dev/v1", "kind": "TaskRun",
		"metadata": map[string]any{"name": t.TaskRun, "labels": map[string]any{
			"tekton.dev/pipelineRun": o.Name, "tekton.dev/pipelineTask": t.Name}},
		"status": map[string]any{
			"startTime":      t.Started.UTC().Format(time.RFC3339),
			"completionTime": t.Started.Add(t.Duration).UTC().Format(time.RFC3339),
			"conditions":     []map[string]any{{"type": "Succeeded", "status": status, "reason": t.Reason, "message": t.Message}},
			"results":        results,
			"steps":          steps,
		},
	}
	b, err := json.MarshalIndent(obj, "", "  ")
	if err != nil {
		return fmt.Errorf("TaskRun %s: %w", t.TaskRun, err)
	}
	dir := filepath.Join(o.WorkDir, TaskRunsDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("TaskRun %s: %w", t.TaskRun, err)
	}
	return os.WriteFile(filepath.Join(dir, t.TaskRun+".json"), b, 0o644)
}

// pullable says whether image could be pulled where the run pretends to be: a project step
// image at the tag of this checkout (whose binaries BinDir holds) or pinned by digest (a
// bundle's pin, which the local binaries stand for), or an image Images maps. Another tag of a
// step image is not the binary here; on a node it would be another image, or none.
func (o *Options) pullable(image string) error {
	if _, ok := o.Images[image]; ok {
		return nil
	}
	_, tag, pinned, ok := stepImage(image)
	if !ok || pinned {
		return nil
	}
	if tag != tekton.StepImageTag {
		return fmt.Errorf("manifest unknown: the step binaries in %s are those of tag %s, not %s", o.BinDir, tekton.StepImageTag, tag)
	}
	return nil
}
