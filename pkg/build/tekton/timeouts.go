package tekton

import (
	"errors"
	"fmt"
	"strings"
	"time"

	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
)

// CheckTimeouts checks a PipelineRun's timeouts against the waits of its Pipeline: waits names
// the params (Go durations) that the tasks on the critical path may wait for, one after the
// other. Tekton's default is one hour for the whole run, and a PipelineRun that times out skips
// its finally tasks, so the run that most needs its report would get none: the tasks must have
// time for every wait, and finally time of its own.
func CheckTimeouts(pr *v1.PipelineRun, p *v1.Pipeline, waits []string) error {
	t := pr.Spec.Timeouts
	if t == nil || t.Tasks == nil || t.Finally == nil {
		return errors.New("spec.timeouts must set tasks and finally: without them the run gets Tekton's default hour for everything, and a run that times out skips finally (no history, no Slack)")
	}
	given := map[string]string{}
	for _, ps := range p.Spec.Params {
		if ps.Default != nil {
			given[ps.Name] = ps.Default.StringVal
		}
	}
	for _, ps := range pr.Spec.Params {
		given[ps.Name] = ps.Value.StringVal
	}
	var sum time.Duration
	var parts []string
	for _, w := range waits {
		v, ok := given[w]
		if !ok {
			continue // the Pipeline has no such wait
		}
		d, err := time.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("param %s=%q is not a duration: %w", w, v, err)
		}
		sum += d
		parts = append(parts, fmt.Sprintf("%s %s", w, d))
	}
	var errs []error
	if t.Tasks.Duration < sum {
		errs = append(errs, fmt.Errorf("timeouts.tasks %s is shorter than the waits on the critical path (%s = %s): the run would time out and skip finally", t.Tasks.Duration, strings.Join(parts, " + "), sum))
	}
	if t.Finally.Duration <= 0 {
		errs = append(errs, errors.New("timeouts.finally must be more than 0: finally needs time of its own to report"))
	}
	if t.Pipeline != nil && t.Pipeline.Duration != 0 && t.Pipeline.Duration < t.Tasks.Duration+t.Finally.Duration {
		errs = append(errs, fmt.Errorf("timeouts.pipeline %s is less than tasks %s + finally %s", t.Pipeline.Duration, t.Tasks.Duration, t.Finally.Duration))
	}
	return errors.Join(errs...)
}
