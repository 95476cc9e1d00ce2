package tektongen

import (
	"fmt"
	"slices"
	"strings"

	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/release-to-prod/release-to-prod/pkg/actions/history"
	"github.com/release-to-prod/release-to-prod/pkg/gates/image"
	"github.com/release-to-prod/release-to-prod/pkg/gates/konflux"
	"github.com/release-to-prod/release-to-prod/pkg/gates/verdict"
	"github.com/release-to-prod/release-to-prod/pkg/gates/vulnerabilities"
	"github.com/release-to-prod/release-to-prod/pkg/step"
)

// PipelineName is the Pipeline's name.
const PipelineName = "release-to-prod"

// pipelineTask is one task of the Pipeline: its steps in one pod, and what its params are
// bound to when that is not the Pipeline param of the same name.
type pipelineTask struct {
	name     string
	desc     string
	uses     []stepUse
	bindings map[string]string // param → value
	when     v1.WhenExpressions
	finally  bool
}

func use(name string, onError bool, values map[string]string) stepUse {
	s := StepNamed(name)
	if s == nil {
		panic("tektongen: no step " + name) // the tables below name only steps of Steps
	}
	return stepUse{step: s, onError: onError, values: values}
}

// gates are the preflight's gate steps, by the name the verdict gives each.
var gates = []struct{ gate, step string }{
	{"known-issues", "check-known-issues"},
	{"image", "check-image"},
	{"konflux", "check-konflux"},
	{"alerts", "check-alerts"},
	{"vulnerabilities", "check-vulnerabilities"},
	{"app-interface", "check-app-interface"},
}

func pipelineTasks() []pipelineTask {
	preflightResult := func(r step.ResultName) string { return "$(tasks.preflight.results." + string(r) + ")" }
	return []pipelineTask{
		{name: "preflight", uses: gatesPod(),
			desc: "Checks every param, then runs every gate as a step of one pod (onError: continue, so one run reports every gate that blocks), then the verdict, which fails the TaskRun when any gate failed."},
		// The PipelineRun's name is for the record the Release carries; Tekton substitutes the
		// run's context in an inline taskSpec, so it needs no param.
		{name: "create-release", uses: []stepUse{use("create-release", false, map[string]string{"WAIT": "true", "PIPELINE_RUN": "$(context.pipelineRun.name)"})},
			desc: "Creates the Release (prints it in a dry run) and waits for its outcome.",
			bindings: map[string]string{
				"snapshot":         preflightResult(konflux.ResultSnapshot),
				"release_plan":     preflightResult(konflux.ResultReleasePlan),
				"existing_release": preflightResult(konflux.ResultExistingRelease),
				// The record the Release carries from its creation.
				"gates_passed": preflightResult(verdict.ResultGateSummary),
			},
			when: v1.WhenExpressions{{Input: preflightResult(konflux.ResultAlreadyReleased), Operator: "notin", Values: []string{"true"}}}},
		reportTask(),
	}
}

// gatesPod is the preflight's steps: check-input, every gate, then the verdict over the gates'
// exit codes.
func gatesPod() []stepUse {
	var gateList []string
	for _, g := range gates {
		gateList = append(gateList, g.gate+"=$(steps.step-"+g.step+".exitCode.path)")
	}
	checkImage := func(r step.ResultName) string { return "$(steps.check-image.results." + string(r) + ")" }
	pod := []stepUse{use("check-input", false, nil)}
	for _, g := range gates {
		// Every step after check-known-issues matches its failures against the team's learned
		// fixes too: the store reaches them as a file in that step's own folder, which every
		// step of the pod can read (Tekton mounts /tekton/steps in each).
		values := map[string]string{"KNOWLEDGE_FILE": KnowledgeFile}
		switch g.step {
		case "check-konflux":
			values["PINNED_DIGEST"] = checkImage(image.ResultPinnedDigest)
		case "check-vulnerabilities":
			values["STAGING_IMAGE"], values["PINNED_DIGEST"], values["PLATFORM_DIGESTS"] = checkImage(image.ResultStagingImage), checkImage(image.ResultPinnedDigest), checkImage(image.ResultPlatformDigests)
		}
		pod = append(pod, use(g.step, true, values))
	}
	// The value must not start with "$(steps.": Tekton would read it as one result reference.
	return append(pod, use("gate-verdict", false, map[string]string{"GATES": strings.Join(gateList, ","), "KNOWLEDGE_FILE": KnowledgeFile}))
}

// reportTask is the finally task. Its params name only params, $(tasks.status), a task's
// status and the run's context: Tekton skips a finally task whose params name a missing
// result, and the runs that most need a report (rejected input, a crashed or OOM-killed
// preflight) leave none.
func reportTask() pipelineTask {
	recorded := func(r step.ResultName) string { return "$(steps.record-history.results." + string(r) + ")" }
	return pipelineTask{name: "report", finally: true,
		desc: "Works out how the run ended (from the run's TaskRuns in the cluster when the preflight left no results), records it in the history and tells Slack.",
		uses: []stepUse{
			// onError: continue, so that notify runs whatever record-history did; notify
			// reads record-history's exit code and fails the report after telling Slack.
			// The settings the run's end fills in (the history works them out) are left
			// empty: unset, as their default is.
			use("record-history", true, map[string]string{"STATUS": "", "SNAPSHOT": "", "RELEASE_NAME": "", "STARTED": "", "UNKNOWN_FAILURES": "", "KNOWN_ISSUES": "",
				"PIPELINE_RUN": "$(context.pipelineRun.name)"}),
			use("notify", false, map[string]string{
				"RECORD_NOTE":           recorded(history.ResultRecordNote),
				"RECORD_EXIT_CODE_FILE": RecordExitCodeFile,
				"RELEASE_STATUS":        recorded(history.ResultReleaseStatus),
				"RELEASE_NAME":          recorded(history.ResultReleaseName),
				"GATE_SUMMARY":          recorded(history.ResultGateSummary),
				"PINNED_DIGEST":         recorded(history.ResultPinnedDigest),
				"FAILURE_CAUSE":         recorded(history.ResultFailureCause),
				"FAILURE_FIX":           recorded(history.ResultFailureFix),
				"KNOWN_ISSUES":          recorded(history.ResultKnownIssues),
				"FAIL_ON_ERROR":         "false",
			}),
		},
		bindings: map[string]string{
			"pipeline_status": "$(tasks.status)",
			"create_status":   "$(tasks.create-release.status)",
		}}
}

// KnowledgeFile is where check-known-issues leaves the team knowledge store for the later steps
// of the preflight pod: beside its own results, under /tekton/steps, which Tekton mounts in
// every step of the pod (the entrypoint reads only declared results there).
const KnowledgeFile = "/tekton/steps/step-check-known-issues/results/knowledge.json"

// RecordExitCodeFile is where record-history's exit code is left for notify in the report pod
// (what $(steps.step-record-history.exitCode.path) names; a value starting with "$(steps."
// would be read as a result reference).
const RecordExitCodeFile = "/tekton/steps/step-record-history/exitCode"

// pipelineDefaults are Pipeline params whose step setting is required but whose gate can be
// skipped: the Pipeline lets them be empty, and the gate says what is missing unless skipped.
var pipelineDefaults = map[string]string{"alertmanager_url": "", "saas_file": ""}

// firstParams come first in the Pipeline's params, in this order: what a person sets.
var firstParams = []string{"commit_sha", "component", "namespace", "application", "dry_run"}

// pipelineResults are the Pipeline's results: task results under the same name and
// description, and a note where the Pipeline's differs. The outcome, the Release and the gates
// come from the report, which always writes them: the PipelineRun's own results are the record
// of a run that created no Release (tkn-local history reads them).
var pipelineResults = []struct {
	task   string
	result step.ResultName
	note   string
}{
	{"preflight", image.ResultPinnedDigest, ""},
	{"preflight", vulnerabilities.ResultScanOutput, ""},
	{"report", history.ResultGateSummary, ""},
	{"preflight", verdict.ResultFailedGates, ""},
	{"report", history.ResultReleaseName, ""},
	{"report", history.ResultReleaseStatus, ""},
}

// Pipeline is the release-to-prod Pipeline, every task's spec inline.
func Pipeline() (*v1.Pipeline, error) {
	b := pipelineBuilder{
		p: &v1.Pipeline{
			TypeMeta:   metav1.TypeMeta{APIVersion: "tekton.dev/v1", Kind: "Pipeline"},
			ObjectMeta: catalogMeta(PipelineName, "Release to production", "konflux, release"),
			Spec: v1.PipelineSpec{
				Description: "Promotes one commit of a Konflux component to production: when its image exists, Konflux agrees, nothing fires in production, no critical vulnerability is found, it is not released yet and app-interface deploys it, creates the Konflux Release; then records the outcome and tells Slack.",
			},
		},
		params: map[string]v1.ParamSpec{},
		wsSeen: map[string]bool{},
	}
	for _, pt := range pipelineTasks() {
		if err := b.addTask(pt); err != nil {
			return nil, err
		}
	}
	if err := b.addParams(); err != nil {
		return nil, err
	}
	if err := b.addResults(); err != nil {
		return nil, err
	}
	return b.p, nil
}

// pipelineBuilder is the Pipeline as its tasks are added: the Pipeline params the tasks take,
// in the order first met, and the workspaces declared so far.
type pipelineBuilder struct {
	p      *v1.Pipeline
	params map[string]v1.ParamSpec
	order  []string
	wsSeen map[string]bool
}

func (b *pipelineBuilder) addTask(pt pipelineTask) error {
	spec, err := taskSpec(pt.desc, pt.uses)
	if err != nil {
		return fmt.Errorf("pipeline task %s: %w", pt.name, err)
	}
	task := v1.PipelineTask{Name: pt.name, TaskSpec: &v1.EmbeddedTask{TaskSpec: *spec}, When: pt.when}
	if err := b.bindParams(pt, spec, &task); err != nil {
		return err
	}
	for _, w := range spec.Workspaces {
		task.Workspaces = append(task.Workspaces, v1.WorkspacePipelineTaskBinding{Name: w.Name, Workspace: w.Name})
		if !b.wsSeen[w.Name] {
			b.wsSeen[w.Name] = true
			b.p.Spec.Workspaces = append(b.p.Spec.Workspaces, v1.PipelineWorkspaceDeclaration{Name: w.Name, Description: w.Description, Optional: w.Optional})
		}
	}
	if pt.finally {
		b.p.Spec.Finally = append(b.p.Spec.Finally, task)
	} else {
		b.p.Spec.Tasks = append(b.p.Spec.Tasks, task)
	}
	return nil
}

// bindParams passes task the params pt binds. A param the task takes from the Pipeline param
// of the same name is propagated (Tekton substitutes the Pipeline's params into an inline
// taskSpec): neither declared in the taskSpec nor passed. Only a param bound to something
// else is both.
func (b *pipelineBuilder) bindParams(pt pipelineTask, spec *v1.TaskSpec, task *v1.PipelineTask) error {
	task.TaskSpec.Params = nil
	for _, ps := range spec.Params {
		if value, bound := pt.bindings[ps.Name]; bound {
			task.TaskSpec.Params = append(task.TaskSpec.Params, ps)
			task.Params = append(task.Params, v1.Param{Name: ps.Name, Value: *v1.NewStructuredValues(value)})
			continue
		}
		if d, ok := pipelineDefaults[ps.Name]; ok {
			ps.Default = v1.NewStructuredValues(d)
		}
		if old, ok := b.params[ps.Name]; ok {
			if old.Description != ps.Description || !sameDefault(old.Default, ps.Default) {
				return fmt.Errorf("param %s: tasks disagree on its description or default", ps.Name)
			}
		} else {
			b.params[ps.Name] = ps
			b.order = append(b.order, ps.Name)
		}
	}
	return nil
}

// addParams declares the Pipeline's params: firstParams, then the rest as the tasks met them.
func (b *pipelineBuilder) addParams() error {
	for _, name := range firstParams {
		if _, ok := b.params[name]; !ok {
			return fmt.Errorf("param %s: no step has it", name)
		}
		b.p.Spec.Params = append(b.p.Spec.Params, b.params[name])
	}
	for _, name := range b.order {
		if !slices.Contains(firstParams, name) {
			b.p.Spec.Params = append(b.p.Spec.Params, b.params[name])
		}
	}
	return nil
}

func (b *pipelineBuilder) addResults() error {
	for _, r := range pipelineResults {
		desc, err := describe(r.result)
		if err != nil {
			return err
		}
		if r.note != "" {
			desc += " " + r.note
		}
		b.p.Spec.Results = append(b.p.Spec.Results, v1.PipelineResult{Name: string(r.result), Type: v1.ResultsTypeString, Description: desc,
			Value: *v1.NewStructuredValues("$(" + pipelineResultPart(r.task) + "." + r.task + ".results." + string(r.result) + ")")})
	}
	return nil
}

// pipelineResultPart is how a Pipeline result names task's results: "finally" for a finally
// task, else "tasks".
func pipelineResultPart(task string) string {
	for _, pt := range pipelineTasks() {
		if pt.name == task && pt.finally {
			return v1.ResultFinallyPart
		}
	}
	return v1.ResultTaskPart
}

// PipelineParams lists the Pipeline's params with the config fields behind them, for the
// generated config of the check-input step: every setting a person can pass.
func PipelineParams() ([]Param, error) {
	var out []Param
	seen := map[string]bool{}
	for _, pt := range pipelineTasks() {
		for _, u := range pt.uses {
			if u.step.PipelineParams {
				continue
			}
			params, fed, err := u.params()
			if err != nil {
				return nil, err
			}
			for _, p := range params {
				if _, bound := pt.bindings[p.Name]; bound || fed[p.Name] || seen[p.Name] {
					continue
				}
				seen[p.Name] = true
				out = append(out, p)
			}
		}
	}
	return out, nil
}

func sameDefault(a, b *v1.ParamValue) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.StringVal == b.StringVal
}
