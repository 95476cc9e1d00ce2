package runner

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/tektoncd/pipeline/pkg/apis/pipeline"
	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	"github.com/tektoncd/pipeline/pkg/pod"
	"github.com/tektoncd/pipeline/pkg/result"
	"github.com/tektoncd/pipeline/pkg/substitution"
	"github.com/tektoncd/pipeline/pkg/termination"
	corev1 "k8s.io/api/core/v1"

	"github.com/release-to-prod/release-to-prod/pkg/build/tekton"
)

// StepOutcome is what happened to one step.
type StepOutcome struct {
	Name string
	// Succeeded, Failed, Continued (failed with onError: continue), Skipped (a step before it
	// failed), Running (an OOM kill ended the TaskRun while the step waited for its turn), or
	// ImagePullFailed (a step image of the TaskRun cannot be pulled: no step ran).
	Status   string
	ExitCode int
	Duration time.Duration
	Results  map[string]string
	// Truncated: its termination message was over the kubelet's share, so the kubelet cut it,
	// Tekton could not parse it and the step's results are lost; Message holds what is left.
	Truncated bool
	Message   string
	// Killed: ended by SIGKILL (the OOM killer, locally), exit code 137 as a container's.
	Killed bool
	// PeakRSS is the process's peak resident set size in bytes (getrusage's ru_maxrss), what
	// the step's memory limit must hold with room to spare; 0 when the step did not run.
	PeakRSS int64
	// MemoryLimit is the step's limits.memory in bytes, as its container would get it; 0 when
	// it has none.
	MemoryLimit int64
}

// ContainerBudget is the termination message a step's container keeps in a pod of steps steps
// (the kubelet's share of 12288 bytes per pod, at most Tekton's 4096): a message over it is
// truncated, Tekton cannot parse it, and the step's results are lost.
func ContainerBudget(steps int) int { return tekton.ContainerBudget(steps) }

// taskRunDir is the TaskRun's folder; Tekton's in-pod paths /tekton/… map to <dir>/tekton/….
type taskRunDir string

func (d taskRunDir) local(s string) string {
	return strings.ReplaceAll(s, "/tekton/", filepath.Join(string(d), "tekton")+"/")
}

// prepare makes the TaskRun's /tekton folders the steps write to.
func (d taskRunDir) prepare() error {
	for _, sub := range []string{"results", "home", "termination"} {
		if err := os.MkdirAll(d.local(filepath.Join("/tekton", sub)), 0o755); err != nil {
			return err
		}
	}
	return nil
}

// runTaskRun runs the steps of a substituted TaskSpec as a pod with Tekton's entrypoint would.
func (o *Options) runTaskRun(ctx context.Context, task, name string, spec *v1.TaskSpec) TaskOutcome {
	start := time.Now()
	dir := taskRunDir(filepath.Join(o.WorkDir, name))
	t := TaskOutcome{Name: task, TaskRun: name, Started: start}
	fmt.Fprintf(o.Out, "▶ %s (TaskRun %s)\n", task, name)
	// fail ends the TaskRun with Tekton's reason and message.
	fail := func(reason v1.TaskRunReason, message string) TaskOutcome {
		t.Status, t.Reason, t.Message, t.Duration = "Failed", string(reason), message, time.Since(start)
		fmt.Fprintf(o.Out, "✗ %s failed after %s: %s: %s\n", task, t.Duration.Round(time.Millisecond), reason, message)
		return t
	}
	if err := dir.prepare(); err != nil {
		return fail(v1.TaskRunReasonFailed, err.Error())
	}
	if steps, message, failed := imagePullFailure(name, spec.Steps, o.pullable); failed {
		t.Steps = steps
		return fail(v1.TaskRunReasonImagePullFailed, message)
	}
	stepResults := map[string]string{} // "steps.<name>.results.<result>" → value
	budget := ContainerBudget(len(spec.Steps))
	steps, err := o.runSteps(ctx, dir, spec.Steps, stepResults, budget)
	t.Steps = steps
	if err != nil {
		return fail(v1.TaskRunReasonFailed, err.Error())
	}
	t.Results, err = taskResults(spec.Results, stepResults, func(result string) ([]byte, error) {
		return os.ReadFile(dir.local(filepath.Join(pipeline.DefaultResultPath, result)))
	})
	if err != nil {
		return fail(v1.TaskRunReasonFailed, err.Error())
	}
	t.Duration = time.Since(start)
	if reason, message, failed := taskRunEnd(t.Steps, budget); failed {
		return fail(reason, message)
	}
	t.Status, t.Reason = "Succeeded", string(v1.TaskRunReasonSuccessful)
	t.Message = "All Steps have completed executing"
	fmt.Fprintf(o.Out, "✓ %s succeeded in %s\n", task, t.Duration.Round(time.Millisecond))
	for _, r := range t.Results {
		fmt.Fprintf(o.Out, "    %s = %s\n", r.Name, short(r.Value.StringVal))
	}
	return t
}

// imagePullFailure is how the TaskRun ends when a step image cannot be pulled (pullable says
// why not): the pod never starts its steps, and Tekton fails the TaskRun with every step
// terminated for that reason. failed is false when every image can be pulled.
func imagePullFailure(taskRun string, steps []v1.Step, pullable func(image string) error) (outcomes []StepOutcome, message string, failed bool) {
	for _, s := range steps {
		err := pullable(s.Image)
		if err == nil {
			continue
		}
		for _, s := range steps {
			outcomes = append(outcomes, StepOutcome{Name: s.Name, Status: "ImagePullFailed", ExitCode: 1})
		}
		return outcomes, fmt.Sprintf(`the step %q in TaskRun %q failed to pull the image %q. The pod errored with the message: "Back-off pulling image %q: ErrImagePull: %v."`,
			s.Name, taskRun, "", s.Image, err), true
	}
	return nil, "", false
}

// runSteps runs the steps in order; after a failed one, the rest are not run. The error is for
// a step that could not be run at all; the outcomes then end with that step's.
func (o *Options) runSteps(ctx context.Context, dir taskRunDir, steps []v1.Step, stepResults map[string]string, budget int) ([]StepOutcome, error) {
	var outcomes []StepOutcome
	var failed *StepOutcome
	for i, s := range steps {
		if failed != nil {
			outcomes = append(outcomes, notRun(s.Name, *failed))
			fmt.Fprintf(o.Out, "  - %s not run: step %s failed\n", s.Name, failed.Name)
			continue
		}
		so, err := o.runStep(ctx, dir, i, s, stepResults, budget)
		if err != nil {
			return append(outcomes, so), fmt.Errorf("step %s: %w", s.Name, err)
		}
		if so.Killed {
			// An OOM kill fails the TaskRun whatever the step's onError (Tekton's
			// DidTaskRunFail): the kernel, not the step, ended it.
			so.Status = "Failed"
		}
		outcomes = append(outcomes, so)
		if so.Status == "Failed" {
			failed = &so
		}
	}
	return outcomes, nil
}

// notRun is the state of a step after the failed one.
func notRun(step string, failed StepOutcome) StepOutcome {
	if failed.Killed {
		// The kernel killed the step's container; its entrypoint never wrote the file the
		// next step waits for: the rest of the pod waits until Tekton gives up on it.
		return StepOutcome{Name: step, Status: "Running"}
	}
	return StepOutcome{Name: step, Status: "Skipped", ExitCode: 1}
}

// taskResults are the Task's results: mapped from step results ($(steps.x.results.y)), or
// written by a step to $(results.x.path), which read returns. A result nobody wrote is absent,
// as in a cluster. On an error, the results before the one in error are returned with it.
func taskResults(declared []v1.TaskResult, stepResults map[string]string, read func(result string) ([]byte, error)) ([]v1.TaskRunResult, error) {
	var results []v1.TaskRunResult
	for _, r := range declared {
		var v string
		if r.Value != nil && r.Value.StringVal != "" {
			// Decided on the references, not on the value: a result may legitimately contain
			// text such as "$(steps." (a message quoting a parameter).
			if missingStepResult(r.Value.StringVal, stepResults) != "" {
				continue
			}
			v = substitution.ApplyReplacements(r.Value.StringVal, stepResults)
		} else {
			b, err := read(r.Name)
			if err != nil {
				continue
			}
			v = string(b)
		}
		var pv v1.ResultValue
		if r.Type == v1.ResultsTypeString || r.Type == "" {
			pv = *v1.NewStructuredValues(v)
		} else if err := pv.UnmarshalJSON([]byte(v)); err != nil {
			return results, fmt.Errorf("result %s: %v", r.Name, err)
		}
		results = append(results, v1.TaskRunResult{Name: r.Name, Type: r.Type, Value: pv})
	}
	return results, nil
}

// taskRunEnd is how Tekton ends a TaskRun whose steps ran as steps tells: failed with a reason
// and a message, or not failed. budget is each container's share of the termination message.
func taskRunEnd(steps []StepOutcome, budget int) (reason v1.TaskRunReason, message string, failed bool) {
	for _, s := range steps {
		if s.Truncated {
			// On a node the kubelet cuts the message and Tekton (v1.15) drops the step's
			// results without failing the TaskRun: the loss surfaces later, or never. Here it
			// fails the TaskRun, so that it is fixed before a cluster hides it; the step's
			// state keeps the cut text, as the node's does.
			return v1.TaskRunReasonResultLargerThanAllowedLimit, fmt.Sprintf("the termination message of step %s is over the %d bytes the kubelet keeps for each of the pod's %d containers: on a node it is cut, Tekton cannot read it and the step's results are lost",
				s.Name, budget, len(steps)+tekton.InitContainers), true
		}
	}
	for i, s := range steps {
		if s.Status != "Failed" {
			continue
		}
		// As Tekton words it (pkg/pod getFailureInfo, extractContainerFailureMessage).
		reason, why := v1.TaskRunReasonStepFailed, "Error"
		if s.Killed {
			reason, why = v1.TaskRunReasonStepOOM, "OOMKilled"
		}
		return reason, fmt.Sprintf("%q exited with code %d: %s", pod.StepName(s.Name, i), s.ExitCode, why), true
	}
	return "", "", false
}

// runStep runs one step as Tekton's entrypoint does: step results of earlier steps substituted
// into env, command and args; the process run; its exit code file written (always on success,
// with onError: continue on failure); its results read and written to a termination message
// with the entrypoint's own entries, which the kubelet holds to budget bytes.
func (o *Options) runStep(ctx context.Context, dir taskRunDir, idx int, s v1.Step, stepResults map[string]string, budget int) (StepOutcome, error) {
	so := StepOutcome{Name: s.Name}
	if m := s.ComputeResources.Limits.Memory(); m != nil {
		so.MemoryLimit = m.Value()
	}
	container := pod.StepName(s.Name, idx)
	stepDir := dir.local(filepath.Join(pipeline.StepsDir, container))
	if err := os.MkdirAll(filepath.Join(stepDir, "results"), 0o755); err != nil {
		return so, err
	}
	if s.Timeout != nil && s.Timeout.Duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.Timeout.Duration)
		defer cancel()
	}
	p, err := o.stepProcess(ctx, dir, stepDir, s, so.MemoryLimit, stepResults)
	if err != nil {
		return so, err
	}
	fmt.Fprintf(o.Out, "  ▶ %s\n", s.Name)
	start := time.Now()
	if err := o.runProcess(ctx, p, s, &so); err != nil {
		return so, err
	}
	if so.Status != "Failed" {
		if err := os.WriteFile(filepath.Join(stepDir, "exitCode"), []byte(strconv.Itoa(so.ExitCode)), 0o644); err != nil {
			return so, err
		}
	}
	return o.collectResults(dir, stepDir, container, s, so, start, stepResults, budget)
}

// stepProcess is a step's process as the local runner starts it: the image's own binary, through
// the peak-rss launcher when it sits beside the step binaries.
type stepProcess struct {
	cmd      *exec.Cmd
	bin      string
	launcher string // empty: no launcher, no peak RSS of the step's own
	rssFile  string
}

// stepProcess builds the step's command: its binary, args and env with Tekton's substitutions.
func (o *Options) stepProcess(ctx context.Context, dir taskRunDir, stepDir string, s v1.Step, memoryLimit int64, stepResults map[string]string) (stepProcess, error) {
	bin, err := o.binary(s.Image)
	if err != nil {
		return stepProcess{}, err
	}
	if s.Script != "" {
		return stepProcess{}, errors.New("script steps are not supported: steps run their image's binary")
	}
	args := append([]string{}, s.Args...)
	if len(s.Command) > 0 {
		if filepath.Base(s.Command[0]) != filepath.Base(bin) {
			return stepProcess{}, fmt.Errorf("command %q: only the image's own binary can run locally", s.Command[0])
		}
		args = append(append([]string{}, s.Command[1:]...), args...)
	}
	env, err := o.baseEnv(dir)
	if err != nil {
		return stepProcess{}, err
	}
	for _, e := range s.Env {
		if e.ValueFrom != nil {
			return stepProcess{}, fmt.Errorf("env %s: valueFrom is not supported locally (and secrets come as files)", e.Name)
		}
		env = append(env, e.Name+"="+o.stepValue(dir, s.Name, e.Value, stepResults))
	}
	for i, a := range args {
		args[i] = o.stepValue(dir, s.Name, a, stepResults)
	}
	// Through the peak-rss launcher when it sits beside the step binaries: only then is the
	// figure the step's own (see cmd/peak-rss).
	p := stepProcess{bin: bin, rssFile: filepath.Join(stepDir, "peak-rss"), launcher: filepath.Join(filepath.Dir(bin), PeakRSSLauncher)}
	if _, err := os.Stat(p.launcher); err != nil {
		p.launcher = ""
	}
	p.cmd = exec.CommandContext(ctx, bin, args...)
	if p.launcher != "" {
		largs := []string{p.rssFile, bin}
		if memoryLimit > 0 {
			// The launcher holds the step to its limits.memory as the container's cgroup would.
			largs = append([]string{"-limit", strconv.FormatInt(memoryLimit, 10)}, largs...)
		}
		p.cmd = exec.CommandContext(ctx, p.launcher, append(largs, args...)...)
	}
	p.cmd.Env = env
	p.cmd.Dir = dir.local("/tekton/home")
	return p, nil
}

// runProcess runs the step's process and sets so's status, exit code, duration and peak RSS as the
// kubelet and Tekton would report them.
func (o *Options) runProcess(ctx context.Context, p stepProcess, s v1.Step, so *StepOutcome) error {
	var out io.Writer = io.Discard
	if o.ShowLog {
		out = &prefixWriter{w: o.Out, prefix: "    │ "}
	}
	p.cmd.Stdout, p.cmd.Stderr = out, out
	start := time.Now()
	runErr := p.cmd.Run()
	if pw, ok := out.(*prefixWriter); ok {
		pw.flush()
	}
	so.Duration = time.Since(start)
	so.PeakRSS = peakRSS(p.cmd, p.launcher, p.rssFile)
	var exitErr *exec.ExitError
	switch {
	case runErr == nil:
		so.Status = "Succeeded"
	case errors.As(runErr, &exitErr):
		so.ExitCode = exitErr.ExitCode()
		if ws, ok := exitErr.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL && ctx.Err() == nil {
			so.Killed, so.ExitCode = true, 137
		}
		so.Status = "Failed"
		if s.OnError == v1.Continue {
			so.Status = "Continued"
		}
	default:
		return fmt.Errorf("running %s: %w", p.bin, runErr)
	}
	return nil
}

// collectResults reads the step's results from its results folder, as the entrypoint does, and
// writes the container's termination message with Tekton's own writer (which enforces 4096),
// holding it to the kubelet's share of the pod (budget). What the entrypoint writes besides the
// results: when the step started, and its exit code under onError: continue.
func (o *Options) collectResults(dir taskRunDir, stepDir, container string, s v1.Step, so StepOutcome, start time.Time, stepResults map[string]string, budget int) (StepOutcome, error) {
	rr := []result.RunResult{{Key: "StartedAt", Value: start.UTC().Format(time.RFC3339Nano), ResultType: result.InternalTektonResultType}}
	if so.Status == "Continued" {
		rr = append(rr, result.RunResult{Key: "ExitCode", Value: strconv.Itoa(so.ExitCode), ResultType: result.InternalTektonResultType})
	}
	so.Results = map[string]string{}
	stepValues, raw := map[string]string{}, map[string]string{}
	for _, r := range s.Results {
		b, err := os.ReadFile(filepath.Join(stepDir, "results", r.Name))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return so, err
		}
		rr = append(rr, result.RunResult{Key: r.Name, Value: string(b), ResultType: result.StepResultType})
		raw[r.Name] = string(b)
		var v v1.ResultValue
		if err := v.UnmarshalJSON(b); err == nil && v.Type == v1.ParamTypeString {
			stepValues[r.Name] = v.StringVal
		}
	}
	msg, err := json.Marshal(rr)
	if err != nil {
		return so, fmt.Errorf("termination message: %w", err)
	}
	switch {
	case len(msg) > termination.MaxContainerTerminationMessageLength:
		// Tekton's entrypoint refuses to write it and fails the step: no result of it exists.
		so.Status, so.ExitCode, so.Truncated = "Failed", 1, true
		o.stepLine(so, fmt.Sprintf(", termination message %d bytes, over the %d Tekton's entrypoint writes: the step fails", len(msg), termination.MaxContainerTerminationMessageLength))
		return so, nil
	case len(msg) > budget:
		// The kubelet cuts the message; Tekton cannot parse it: no result of this step exists,
		// and the step's state keeps the cut text.
		so.Truncated, so.Message = true, string(msg[:budget])
		o.stepLine(so, fmt.Sprintf(", termination message %d bytes, over the %d the kubelet keeps: its results are lost", len(msg), budget))
		return so, nil
	}
	if err := termination.WriteMessage(dir.local(filepath.Join("/tekton/termination", container)), rr); err != nil {
		return so, fmt.Errorf("termination message: %w", err)
	}
	for name, v := range raw {
		so.Results[name] = v
	}
	for name, v := range stepValues {
		stepResults[fmt.Sprintf("steps.%s.results.%s", s.Name, name)] = v
	}
	o.stepLine(so, "")
	return so, nil
}

// PeakRSSLauncher is the program, beside the step binaries, that runs a step and writes its
// peak RSS (cmd/peak-rss).
const PeakRSSLauncher = "peak-rss"

// peakRSS is the step's peak RSS in bytes: what the launcher wrote, else the process's own
// ru_maxrss, which is the step's only when larger than the runner's own high water mark (the
// kernel carries the larger across execve); 0 when unknown.
func peakRSS(cmd *exec.Cmd, launcher, rssFile string) int64 {
	if launcher != "" {
		b, err := os.ReadFile(rssFile)
		if err != nil {
			return 0
		}
		n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		if err != nil {
			return 0
		}
		return n
	}
	if cmd.ProcessState == nil {
		return 0
	}
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		return 0
	}
	var self syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &self); err != nil || ru.Maxrss <= self.Maxrss {
		return 0
	}
	return ru.Maxrss * 1024 // kibibytes on Linux
}

func (o *Options) stepLine(so StepOutcome, extra string) {
	d := so.Duration.Round(time.Millisecond).String()
	if so.PeakRSS > 0 {
		d += ", " + megabytes(so.PeakRSS)
	}
	switch so.Status {
	case "Succeeded":
		fmt.Fprintf(o.Out, "  ✓ %s %s\n", so.Name, d)
	case "Continued":
		fmt.Fprintf(o.Out, "  ✗ %s %s: exit %d (onError: continue)\n", so.Name, d, so.ExitCode)
	default:
		fmt.Fprintf(o.Out, "  ✗ %s %s: exit %d%s\n", so.Name, d, so.ExitCode, extra)
	}
}

// megabytes renders a byte count as the step lines show peak RSS: "23 MB".
func megabytes(b int64) string { return fmt.Sprintf("%.0f MB", float64(b)/1e6) }

// stepValue substitutes the results of earlier steps into s, as the entrypoint does at run
// time (a reference to a missing result is left as is, with a warning, as the entrypoint
// logs it), then maps Tekton's /tekton/ paths into the TaskRun's folder.
func (o *Options) stepValue(dir taskRunDir, step, s string, stepResults map[string]string) string {
	if missing := missingStepResult(s, stepResults); missing != "" {
		fmt.Fprintf(o.Out, "  ! %s: $(%s) is not available (the step that writes it failed or did not write it)\n", step, missing)
	}
	return dir.local(substitution.ApplyReplacements(s, stepResults))
}

var stepResultRef = regexp.MustCompile(`\$\((steps\.[^.()\s]+\.results\.[^.()\s\[\]]+)\)`)

// missingStepResult returns the first step-result reference in s that has no value, or "".
func missingStepResult(s string, stepResults map[string]string) string {
	for _, m := range stepResultRef.FindAllStringSubmatch(s, -1) {
		if _, ok := stepResults[m[1]]; !ok {
			return m[1]
		}
	}
	return ""
}

// baseEnv is what a step gets besides its own env: what a container would have (PATH, HOME)
// and what reaching a cluster or registry from this machine needs.
func (o *Options) baseEnv(dir taskRunDir) ([]string, error) {
	env := []string{"HOME=" + dir.local("/tekton/home"), "TASKRUNS_DIR=" + filepath.Join(o.WorkDir, TaskRunsDir)}
	for _, k := range []string{"PATH", "TMPDIR", "SSL_CERT_FILE", "SSL_CERT_DIR", "HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY", "https_proxy", "http_proxy", "no_proxy"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	kc := o.Kubeconfig
	if kc == "" {
		kc = os.Getenv("KUBECONFIG")
	}
	if kc != "" {
		abs, err := filepath.Abs(kc)
		if err != nil {
			return nil, fmt.Errorf("kubeconfig: %w", err)
		}
		env = append(env, "KUBECONFIG="+abs)
	}
	return env, nil
}

// prefixWriter indents a step's output under its name.
type prefixWriter struct {
	mu     sync.Mutex
	w      io.Writer
	prefix string
	buf    []byte
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.buf = append(p.buf, b...)
	for {
		i := strings.IndexByte(string(p.buf), '\n')
		if i < 0 {
			return len(b), nil
		}
		fmt.Fprintf(p.w, "%s%s\n", p.prefix, p.buf[:i])
		p.buf = p.buf[i+1:]
	}
}

func (p *prefixWriter) flush() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.buf) > 0 {
		sc := bufio.NewScanner(strings.NewReader(string(p.buf)))
		for sc.Scan() {
			fmt.Fprintf(p.w, "%s%s\n", p.prefix, sc.Text())
		}
		p.buf = nil
	}
}

func emptyDirSource() corev1.EmptyDirVolumeSource { return corev1.EmptyDirVolumeSource{} }
