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
	"time"

	"github.com/tektoncd/pipeline/pkg/apis/pipeline"
	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	"github.com/tektoncd/pipeline/pkg/pod"
	"github.com/tektoncd/pipeline/pkg/result"
	"github.com/tektoncd/pipeline/pkg/substitution"
	"github.com/tektoncd/pipeline/pkg/termination"
	corev1 "k8s.io/api/core/v1"
)

// StepOutcome is what happened to one step.
type StepOutcome struct {
	Name     string
	Status   string // Succeeded, Failed, Continued (failed with onError: continue), Skipped
	ExitCode int
	Duration time.Duration
	Results  map[string]string
}

// Budget is the size of a TaskRun's results in its termination message (Kubernetes keeps 4096
// bytes of a container's message; DESIGN.md holds the whole TaskRun to it).
const Budget = termination.MaxContainerTerminationMessageLength

// taskRunDir is the TaskRun's folder; Tekton's in-pod paths /tekton/… map to <dir>/tekton/….
type taskRunDir string

func (d taskRunDir) local(s string) string {
	return strings.ReplaceAll(s, "/tekton/", filepath.Join(string(d), "tekton")+"/")
}

// runTaskRun runs the steps of a substituted TaskSpec as a pod with Tekton's entrypoint would.
func (o *Options) runTaskRun(ctx context.Context, task, name string, spec *v1.TaskSpec) TaskOutcome {
	start := time.Now()
	dir := taskRunDir(filepath.Join(o.WorkDir, name))
	t := TaskOutcome{Name: task, TaskRun: name}
	fmt.Fprintf(o.Out, "▶ %s (TaskRun %s)\n", task, name)
	fail := func(reason string) TaskOutcome {
		t.Status, t.Reason, t.Duration = "Failed", reason, time.Since(start)
		fmt.Fprintf(o.Out, "✗ %s failed after %s: %s\n", task, t.Duration.Round(time.Millisecond), reason)
		return t
	}
	for _, sub := range []string{"results", "home", "termination"} {
		if err := os.MkdirAll(dir.local(filepath.Join("/tekton", sub)), 0o755); err != nil {
			return fail(err.Error())
		}
	}
	stepResults := map[string]string{} // "steps.<name>.results.<result>" → value
	var all []result.RunResult
	failed := ""
	for i, s := range spec.Steps {
		if failed != "" {
			t.Steps = append(t.Steps, StepOutcome{Name: s.Name, Status: "Skipped"})
			fmt.Fprintf(o.Out, "  - %s skipped: step %s failed\n", s.Name, failed)
			continue
		}
		so, runResults, err := o.runStep(ctx, dir, i, s, stepResults)
		t.Steps = append(t.Steps, so)
		if err != nil {
			return fail(fmt.Sprintf("step %s: %v", s.Name, err))
		}
		all = append(all, runResults...)
		if so.Status == "Failed" {
			failed = s.Name
		}
	}
	// Task results: mapped from step results ($(steps.x.results.y)), or written by a step to
	// $(results.x.path). A result nobody wrote is absent, as in a cluster.
	for _, r := range spec.Results {
		var v string
		if r.Value != nil && r.Value.StringVal != "" {
			// Decided on the references, not on the value: a result may legitimately contain
			// text such as "$(steps." (a message quoting a parameter).
			if missingStepResult(r.Value.StringVal, stepResults) != "" {
				continue
			}
			v = substitution.ApplyReplacements(r.Value.StringVal, stepResults)
		} else {
			b, err := os.ReadFile(dir.local(filepath.Join(pipeline.DefaultResultPath, r.Name)))
			if err != nil {
				continue
			}
			v = string(b)
			all = append(all, result.RunResult{Key: r.Name, Value: v, ResultType: result.TaskRunResultType})
		}
		var pv v1.ResultValue
		if r.Type == v1.ResultsTypeString || r.Type == "" {
			pv = *v1.NewStructuredValues(v)
		} else if err := pv.UnmarshalJSON([]byte(v)); err != nil {
			return fail(fmt.Sprintf("result %s: %v", r.Name, err))
		}
		t.Results = append(t.Results, v1.TaskRunResult{Name: r.Name, Type: r.Type, Value: pv})
	}
	if n := encodedSize(all); n > Budget {
		t.Results = nil
		return fail(fmt.Sprintf("%s: the TaskRun's results take %d bytes of its %d-byte termination message", v1.TaskRunReasonResultLargerThanAllowedLimit, n, Budget))
	}
	t.Duration = time.Since(start)
	if failed != "" {
		return fail(fmt.Sprintf("%s: step %s failed", v1.TaskRunReasonFailed, failed))
	}
	t.Status, t.Reason = "Succeeded", string(v1.TaskRunReasonSuccessful)
	fmt.Fprintf(o.Out, "✓ %s succeeded in %s\n", task, t.Duration.Round(time.Millisecond))
	for _, r := range t.Results {
		fmt.Fprintf(o.Out, "    %s = %s\n", r.Name, short(r.Value.StringVal))
	}
	return t
}

func encodedSize(rs []result.RunResult) int {
	if len(rs) == 0 {
		return 0
	}
	b, err := json.Marshal(rs)
	if err != nil {
		return Budget + 1
	}
	return len(b)
}

// runStep runs one step as Tekton's entrypoint does: step results of earlier steps substituted
// into env, command and args; the process run; its exit code file written (always on success,
// with onError: continue on failure); its results read and written to a termination message,
// which Tekton's code holds to 4096 bytes.
func (o *Options) runStep(ctx context.Context, dir taskRunDir, idx int, s v1.Step, stepResults map[string]string) (StepOutcome, []result.RunResult, error) {
	so := StepOutcome{Name: s.Name}
	container := pod.StepName(s.Name, idx)
	stepDir := dir.local(filepath.Join(pipeline.StepsDir, container))
	if err := os.MkdirAll(filepath.Join(stepDir, "results"), 0o755); err != nil {
		return so, nil, err
	}
	bin, err := o.binary(s.Image)
	if err != nil {
		return so, nil, err
	}
	if s.Script != "" {
		return so, nil, errors.New("script steps are not supported: steps run their image's binary")
	}
	args := append([]string{}, s.Args...)
	if len(s.Command) > 0 {
		if filepath.Base(s.Command[0]) != filepath.Base(bin) {
			return so, nil, fmt.Errorf("command %q: only the image's own binary can run locally", s.Command[0])
		}
		args = append(append([]string{}, s.Command[1:]...), args...)
	}
	env, err := o.baseEnv(dir)
	if err != nil {
		return so, nil, err
	}
	for _, e := range s.Env {
		if e.ValueFrom != nil {
			return so, nil, fmt.Errorf("env %s: valueFrom is not supported locally (and secrets come as files)", e.Name)
		}
		env = append(env, e.Name+"="+o.stepValue(dir, s.Name, e.Value, stepResults))
	}
	for i, a := range args {
		args[i] = o.stepValue(dir, s.Name, a, stepResults)
	}
	if s.Timeout != nil && s.Timeout.Duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.Timeout.Duration)
		defer cancel()
	}
	fmt.Fprintf(o.Out, "  ▶ %s\n", s.Name)
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = env
	cmd.Dir = dir.local("/tekton/home")
	var out io.Writer = io.Discard
	if o.ShowLog {
		out = &prefixWriter{w: o.Out, prefix: "    │ "}
	}
	cmd.Stdout, cmd.Stderr = out, out
	start := time.Now()
	runErr := cmd.Run()
	if pw, ok := out.(*prefixWriter); ok {
		pw.flush()
	}
	so.Duration = time.Since(start)
	var exitErr *exec.ExitError
	switch {
	case runErr == nil:
		so.Status = "Succeeded"
	case errors.As(runErr, &exitErr):
		so.ExitCode = exitErr.ExitCode()
		so.Status = "Failed"
		if s.OnError == v1.Continue {
			so.Status = "Continued"
		}
	default:
		return so, nil, fmt.Errorf("running %s: %w", bin, runErr)
	}
	if so.Status != "Failed" {
		if err := os.WriteFile(filepath.Join(stepDir, "exitCode"), []byte(strconv.Itoa(so.ExitCode)), 0o644); err != nil {
			return so, nil, err
		}
	}
	// Step results: read from the step's results folder, as the entrypoint does, and written
	// to the container's termination message with Tekton's own writer (which enforces 4096).
	var rr []result.RunResult
	so.Results = map[string]string{}
	for _, r := range s.Results {
		b, err := os.ReadFile(filepath.Join(stepDir, "results", r.Name))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return so, nil, err
		}
		so.Results[r.Name] = string(b)
		rr = append(rr, result.RunResult{Key: r.Name, Value: string(b), ResultType: result.StepResultType})
		var v v1.ResultValue
		if err := v.UnmarshalJSON(b); err == nil && v.Type == v1.ParamTypeString {
			stepResults[fmt.Sprintf("steps.%s.results.%s", s.Name, r.Name)] = v.StringVal
		}
	}
	if len(rr) > 0 {
		if err := termination.WriteMessage(dir.local(filepath.Join("/tekton/termination", container)), rr); err != nil {
			so.Status = "Failed"
			o.stepLine(so, fmt.Sprintf(", %s: %v", v1.TaskRunReasonResultLargerThanAllowedLimit, err))
			return so, rr, nil
		}
	}
	o.stepLine(so, "")
	return so, rr, nil
}

func (o *Options) stepLine(so StepOutcome, extra string) {
	d := so.Duration.Round(time.Millisecond)
	switch so.Status {
	case "Succeeded":
		fmt.Fprintf(o.Out, "  ✓ %s %s\n", so.Name, d)
	case "Continued":
		fmt.Fprintf(o.Out, "  ✗ %s %s: exit %d (onError: continue)\n", so.Name, d, so.ExitCode)
	default:
		fmt.Fprintf(o.Out, "  ✗ %s %s: exit %d%s\n", so.Name, d, so.ExitCode, extra)
	}
}

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
	env := []string{"HOME=" + dir.local("/tekton/home")}
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
