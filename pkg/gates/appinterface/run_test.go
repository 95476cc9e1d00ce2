package appinterface

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/release-to-prod/release-to-prod/pkg/step"

	"github.com/release-to-prod/release-to-prod/test/stepexec"
)

func TestRun(t *testing.T) {
	tests := []struct {
		name     string
		dir      func(t *testing.T) string // the checkout; the valid tree when nil
		env      map[string]string         // on top of COMMIT_SHA, SAAS_FILE, CHECKOUT_DIR
		wantCode int
		outHas   []string
		results  map[string]string // nil: no result files expected
	}{
		{name: "valid", wantCode: step.ExitOK,
			outHas: []string{
				"✓ " + saasPath + " deploys " + testSHA + " to production target aa-backend@aa-production (environment servicePhase: prod)",
				"✓ SaaS file " + saasPath + " (saas-aa) valid: 2 target(s), 1 production",
			},
			results: map[string]string{string(ResultSaasFile): saasPath, string(ResultTargetsChecked): "aa-backend@aa-production"}},
		{name: "wrong ref is its own known failure", dir: overlay("wrong-ref"), wantCode: step.ExitFailed,
			outHas: []string{
				"✗ " + saasPath + ":50: resourceTemplates[0] \"aa-backend\": targets[1]: production target aa-backend@aa-production has ref 9c1185a5c5e9fc54612808977ee8f548b2258d31, want " + testSHA,
				"✗ check-app-interface failed: 1 production target(s) of " + saasPath + " not at " + testSHA,
				"likely cause: the SaaS file " + saasPath + " deploys ref 9c1185a5c5e9fc54612808977ee8f548b2258d31 to the production target aa-backend@aa-production, not this commit " + testSHA,
				"fix: merge the app-interface MR that sets ref: " + testSHA,
			}},
		{name: "blocked version", dir: overlay("blocked"), wantCode: step.ExitFailed,
			outHas: []string{"✗ data/services/aa/app.yml:19: commit " + testSHA + " is in blockedVersions", "likely cause: commit " + testSHA + " is listed in codeComponents[].blockedVersions of data/services/aa/app.yml"}},
		{name: "all problems then one summary", dir: overlay("missing-fields"), wantCode: step.ExitFailed,
			outHas: []string{
				"✗ " + saasPath + ":2: missing required field \"pipelinesProvider\"",
				"✗ " + saasPath + ":30: resourceTemplates[0] \"aa-backend\": missing required field \"url\"",
				"✗ " + saasPath + ":44: resourceTemplates[0] \"aa-backend\": targets[1]: missing required field \"ref\"",
				"✗ check-app-interface failed: 3 problem(s) in " + saasPath,
				"likely cause: 3 problem(s) in the SaaS file " + saasPath,
			}},
		{name: "yaml syntax error", dir: overlay("yaml-syntax"), wantCode: step.ExitFailed,
			outHas: []string{"✗ " + saasPath + ":36: YAML syntax error: ", "1 problem(s)"}},
		{name: "skip", env: map[string]string{"SKIP": "true", "COMMIT_SHA": "not-a-sha"}, wantCode: step.ExitOK,
			outHas:  []string{"- app-interface check skipped (skip=true)"},
			results: map[string]string{string(ResultSaasFile): saasPath, string(ResultTargetsChecked): "skipped"}},
		{name: "bad skip", env: map[string]string{"SKIP": "maybe"}, wantCode: step.ExitBadArgs, outHas: []string{`SKIP "maybe" is not true or false`}},
		{name: "short sha", env: map[string]string{"COMMIT_SHA": "3f78685"}, wantCode: step.ExitBadArgs, outHas: []string{"COMMIT_SHA", "short SHA"}},
		{name: "saas file escapes with ..", env: map[string]string{"SAAS_FILE": "data/../../etc/passwd"}, wantCode: step.ExitBadArgs,
			outHas: []string{`SAAS_FILE: path "data/../../etc/passwd" contains '..': it must stay inside the checkout`}},
		{name: "saas file absolute", env: map[string]string{"SAAS_FILE": "/etc/passwd"}, wantCode: step.ExitBadArgs,
			outHas: []string{`SAAS_FILE: path "/etc/passwd" is absolute`}},
		{name: "saas file symlink escape", dir: func(t *testing.T) string {
			dir := tree(t, "")
			outside := filepath.Join(t.TempDir(), "saas.yml")
			require.NoError(t, os.WriteFile(outside, []byte("name: x\n"), 0o644))
			require.NoError(t, os.Symlink(outside, filepath.Join(dir, "data/services/aa/cicd/link.yml")))
			return dir
		}, env: map[string]string{"SAAS_FILE": "data/services/aa/cicd/link.yml"}, wantCode: step.ExitBadArgs,
			outHas: []string{"SAAS_FILE: data/services/aa/cicd/link.yml resolves outside the checkout"}},
		{name: "saas file missing", env: map[string]string{"SAAS_FILE": "data/services/aa/cicd/nope.yml"}, wantCode: step.ExitBadArgs,
			outHas: []string{"SAAS_FILE: data/services/aa/cicd/nope.yml does not exist in the checkout"}},
		{name: "checkout missing", env: map[string]string{"CHECKOUT_DIR": "/nonexistent/app-interface"}, wantCode: step.ExitBadArgs,
			outHas: []string{`CHECKOUT_DIR "/nonexistent/app-interface" is not a directory`}},
		{name: "just the saas file needs TARGET", dir: singleFile, env: map[string]string{"SAAS_FILE": "saas.yml"}, wantCode: step.ExitFailed,
			outHas: []string{"! saas.yml: the workspace has no data/ folder", "✗ saas.yml: no production target identified"}},
		{name: "just the saas file with TARGET", dir: singleFile,
			env:      map[string]string{"SAAS_FILE": "saas.yml", "TARGET": "/services/aa/namespaces/prod.yml"},
			wantCode: step.ExitOK, outHas: []string{"! saas.yml: the workspace has no data/ folder", "to production target aa-backend@prod (named by TARGET)"},
			results: map[string]string{string(ResultSaasFile): "saas.yml", string(ResultTargetsChecked): "aa-backend@prod"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := tree(t, "")
			if tt.dir != nil {
				dir = tt.dir(t)
			}
			env := map[string]string{"COMMIT_SHA": testSHA, "SAAS_FILE": saasPath, "CHECKOUT_DIR": dir, "TARGET": "", "SKIP": ""}
			for k, v := range tt.env {
				env[k] = v
			}
			for k, v := range env {
				t.Setenv(k, v)
			}
			results := filepath.Join(t.TempDir(), "results")
			var out bytes.Buffer
			code := step.Run(context.Background(), "check-app-interface", []string{"--results-dir=" + results}, &out, &Config{}, Run)
			assert.Equal(t, tt.wantCode, code, out.String())
			for _, s := range tt.outHas {
				assert.Contains(t, out.String(), s)
			}
			assertResults(t, results, tt.results)
		})
	}
}

func overlay(name string) func(t *testing.T) string {
	return func(t *testing.T) string { return tree(t, name) }
}

func singleFile(t *testing.T) string {
	dir := t.TempDir()
	copyTree(t, filepath.Join("testdata", "single-file"), dir)
	return dir
}

func assertResults(t *testing.T, dir string, want map[string]string) {
	t.Helper()
	entries, _ := os.ReadDir(dir)
	got := map[string]string{}
	for _, e := range entries {
		if e.Name() == step.AdviceFile { // left for the gate verdict, not a Tekton result
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		require.NoError(t, err)
		got[e.Name()] = string(b)
	}
	if want == nil {
		want = map[string]string{}
	}
	assert.Equal(t, want, got)
}

func TestTargetsList(t *testing.T) {
	tests := []struct {
		labels []string
		budget int
		want   string
	}{
		{nil, 512, ""},
		{[]string{"a@x"}, 512, "a@x"},
		{[]string{"a@x", "b@y"}, 512, "a@x,b@y"},
		{[]string{"aaaa@x", "bbbb@y", "cccc@z"}, 19, "aaaa@x,+2 more"},
		{[]string{"aaaa@x", "bbbb@y", "cccc@z"}, 20, "aaaa@x,bbbb@y,cccc@z"},
		{[]string{"aaaa@x", "bbbb@y", "cccccccccc@z"}, 22, "aaaa@x,bbbb@y,+1 more"},
		{[]string{"aaaa@x", "bbbb@y", "cccc@z"}, 3, "+3 more"},
	}
	for _, tt := range tests {
		got := TargetsList(tt.labels, tt.budget)
		assert.Equal(t, tt.want, got, "%v within %d", tt.labels, tt.budget)
		if len(tt.labels) > 1 {
			assert.LessOrEqual(t, len(got), max(tt.budget, len("+N more")))
		}
	}
	many := make([]string, 200)
	for i := range many {
		many[i] = "aa-backend@aa-production-" + strings.Repeat("x", i%7)
	}
	assert.LessOrEqual(t, len(TargetsList(many, targetsBudget)), targetsBudget)
}

// TestStepBinary builds the real step and runs it as a process, as Tekton would.
func TestStepBinary(t *testing.T) {
	bin := stepexec.Build(t, "check-app-interface")

	tests := []struct {
		name     string
		overlay  string
		wantCode int
		outHas   []string
		results  map[string]string
	}{
		{name: "valid", wantCode: 0,
			outHas:  []string{"✓ SaaS file " + saasPath + " (saas-aa) valid"},
			results: map[string]string{string(ResultSaasFile): saasPath, string(ResultTargetsChecked): "aa-backend@aa-production"}},
		{name: "disabled production target", overlay: "disabled", wantCode: 1,
			outHas: []string{"✗ " + saasPath + ":51: ", "has disable: true", "✗ check-app-interface failed: 1 problem(s) in " + saasPath, "likely cause: ", "fix: fix every ✗ line above"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			results := filepath.Join(t.TempDir(), "step-results", "SAAS_FILE", "..")
			r := stepexec.Run(t, bin, []string{"PATH=" + os.Getenv("PATH"),
				"COMMIT_SHA=" + testSHA, "SAAS_FILE=" + saasPath, "CHECKOUT_DIR=" + tree(t, tt.overlay),
				"RESULTS_DIR=" + results, "TARGET=", "SKIP=false", "LOG_FORMAT=text"})
			code, out := r.Code, []byte(r.Output)
			assert.Equal(t, tt.wantCode, code, string(out))
			for _, s := range tt.outHas {
				assert.Contains(t, string(out), s)
			}
			assertResults(t, filepath.Clean(results), tt.results)
		})
	}
}
