package tekton

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	corev1 "k8s.io/api/core/v1"
)

func TestDecode(t *testing.T) {
	for _, tc := range []struct {
		name, yaml, err string
	}{
		{"task", "apiVersion: tekton.dev/v1\nkind: Task\nmetadata: {name: t}\nspec: {steps: [{name: s, image: x}]}\n", ""},
		{"stepaction", "apiVersion: tekton.dev/v1beta1\nkind: StepAction\nmetadata: {name: s}\nspec: {image: x}\n", ""},
		{"comment and marker", "# hi\n---\napiVersion: tekton.dev/v1\nkind: Pipeline\nmetadata: {name: p}\nspec: {}\n", ""},
		{"unknown field", "apiVersion: tekton.dev/v1\nkind: Task\nmetadata: {name: t}\nspec: {stepz: []}\n", `unknown field "stepz"`},
		{"unknown metadata field", "apiVersion: tekton.dev/v1\nkind: Task\nmetadata: {name: t, label: {}}\nspec: {}\n", `unknown field "label"`},
		{"duplicate key", "apiVersion: tekton.dev/v1\nkind: Task\nmetadata: {name: t}\nspec: {}\nspec: {}\n", `key "spec" already set`},
		{"old task version", "apiVersion: tekton.dev/v1beta1\nkind: Task\nmetadata: {name: t}\n", "unsupported kind"},
		{"other kind", "apiVersion: v1\nkind: ConfigMap\n", "unsupported kind"},
		{"two documents", "apiVersion: tekton.dev/v1\nkind: Task\n---\napiVersion: tekton.dev/v1\nkind: Task\n", "exactly one YAML document, found 2"},
		{"empty", "# nothing\n", "found 0"},
		{"not yaml", "{[", "decoding"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode([]byte(tc.yaml))
			if tc.err == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.err)
		})
	}
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte("apiVersion: tekton.dev/v1\nkind: Task\nmetadata: {name: t}\nspec: {steps: [{name: s, image: x}]}\n"))
	f.Add([]byte("apiVersion: tekton.dev/v1beta1\nkind: StepAction\nspec: {image: x, env: [{name: A}]}\n"))
	f.Add([]byte("---\n---\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = Decode(b) // never panics
	})
}

func pt(name string, after ...string) v1.PipelineTask {
	return v1.PipelineTask{Name: name, RunAfter: after, TaskRef: &v1.TaskRef{Name: "t"}}
}

func TestCriticalPath(t *testing.T) {
	resultRef := pt("c")
	resultRef.Params = v1.Params{{Name: "x", Value: *v1.NewStructuredValues("$(tasks.b.results.R)")}}
	for _, tc := range []struct {
		name string
		spec v1.PipelineSpec
		want int
	}{
		{"one task", v1.PipelineSpec{Tasks: []v1.PipelineTask{pt("a")}}, 1},
		{"parallel", v1.PipelineSpec{Tasks: []v1.PipelineTask{pt("a"), pt("b"), pt("c")}}, 1},
		{"chain with finally", v1.PipelineSpec{Tasks: []v1.PipelineTask{pt("a"), pt("b", "a")}, Finally: []v1.PipelineTask{pt("f"), pt("g")}}, 3},
		{"result reference is an edge", v1.PipelineSpec{Tasks: []v1.PipelineTask{pt("a"), pt("b", "a"), resultRef}}, 3},
		{"diamond", v1.PipelineSpec{Tasks: []v1.PipelineTask{pt("a"), pt("b", "a"), pt("c", "a"), pt("d", "b", "c")}}, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, path, err := CriticalPath(&tc.spec)
			require.NoError(t, err)
			assert.Equal(t, tc.want, n, "%v", path)
			assert.Len(t, path, n)
		})
	}
	_, _, err := CriticalPath(&v1.PipelineSpec{Tasks: []v1.PipelineTask{pt("a", "b"), pt("b", "a")}})
	assert.Error(t, err)
}

func TestStepReferences(t *testing.T) {
	step := func(name string, env string, results ...string) v1.Step {
		s := v1.Step{Name: name, Env: []corev1.EnvVar{{Name: "X", Value: env}}}
		for _, r := range results {
			s.Results = append(s.Results, v1.StepResult{Name: r})
		}
		return s
	}
	for _, tc := range []struct {
		name    string
		steps   []v1.Step
		results []v1.TaskResult
		err     string
	}{
		{"ok", []v1.Step{step("a", "", "R"), step("b", "$(steps.a.results.R) $(steps.step-a.exitCode.path)")}, nil, ""},
		{"later step", []v1.Step{step("a", "$(steps.b.results.R)"), step("b", "", "R")}, nil, "not an earlier step"},
		{"undeclared", []v1.Step{step("a", "", "R"), step("b", "$(steps.a.results.S)")}, nil, `which step "a" does not declare`},
		{"exit code without prefix", []v1.Step{step("a", ""), step("b", "$(steps.a.exitCode.path)")}, nil, "step-<step-name>"},
		{"exit code of unknown step", []v1.Step{step("b", "$(steps.step-a.exitCode.path)")}, nil, "not an earlier step"},
		{"task result ok", []v1.Step{step("a", "", "R")}, []v1.TaskResult{{Name: "R", Value: v1.NewStructuredValues("$(steps.a.results.R)")}}, ""},
		{"task result undeclared", []v1.Step{step("a", "", "R")}, []v1.TaskResult{{Name: "R", Value: v1.NewStructuredValues("$(steps.a.results.Q)")}}, "does not declare"},
		{"task result of unknown step", []v1.Step{step("a", "", "R")}, []v1.TaskResult{{Name: "R", Value: v1.NewStructuredValues("$(steps.z.results.R)")}}, "does not exist"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := StepReferences(tc.steps, tc.results)
			if tc.err == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.err)
		})
	}
}
