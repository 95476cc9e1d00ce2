package vulnerabilities

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"

	"github.com/release-to-prod/release-to-prod/pkg/build/tekton"
	"github.com/release-to-prod/release-to-prod/pkg/step"
	"github.com/release-to-prod/release-to-prod/test/sandbox"
	"github.com/release-to-prod/release-to-prod/test/stepexec"
	"github.com/release-to-prod/release-to-prod/test/tools"
)

// TestStepBinary builds steps/check-vulnerabilities and runs it as a process against the Quay
// stand-in on loopback, with the environment the StepAction sets: exit codes, output lines and
// the result files.
func TestStepBinary(t *testing.T) {
	bin := stepexec.Build(t, "check-vulnerabilities")

	const token = "e2e-secret-token-value"
	tokenFile := filepath.Join(t.TempDir(), "token")
	require.NoError(t, os.WriteFile(tokenFile, []byte(token), 0o600))

	q := newQuayServer(t)
	single := "sha256:" + strings.Repeat("d", 64)
	queued := "sha256:" + strings.Repeat("e", 64)
	missing := "sha256:" + strings.Repeat("f", 64)
	q.SetSecurity(repo, single, sandbox.QuayScanned(curl, zlib))
	q.SetSecurity(repo, idx, sandbox.QuayStatus("unsupported"))
	q.SetSecurity(repo, amd, sandbox.QuayScanned(zlib))
	q.SetSecurity(repo, arm, sandbox.QuayScanned(zlib, openssl))
	q.SetSecurity(repo, queued, sandbox.QuayStatus("queued"), sandbox.QuayStatus("queued"), sandbox.QuayScanned(zlib))

	image := q.Host + "/" + repo
	tests := []struct {
		name        string
		env         map[string]string
		wantCode    int
		wantLines   []string // whole lines
		outHas      []string
		wantResults map[string]string // nil: no result files
	}{
		{name: "clean single-arch image passes", env: map[string]string{"PINNED_DIGEST": single},
			wantLines: []string{
				"  CVE-2023-0101 [high] curl 7.76.1, fixed in 7.76.1-29",
				"✓ no critical vulnerabilities in " + image + "@" + single + ": critical 0, high 2, medium 1, low 1, unknown 1 (unpatched: critical 0, high 1, medium 0, low 1, unknown 1)",
			},
			wantResults: map[string]string{
				"SCAN_OUTPUT":    `{"vulnerabilities":{"critical":0,"high":2,"medium":1,"low":1,"unknown":1},"unpatched_vulnerabilities":{"critical":0,"high":1,"medium":0,"low":1,"unknown":1}}`,
				"CRITICAL_COUNT": "0"}},
		{name: "critical only on arm64 of a multi-arch image blocks", env: map[string]string{"PLATFORM_DIGESTS": "linux/amd64=" + amd + ",linux/arm64=" + arm},
			wantCode: 1,
			wantLines: []string{
				"  " + image + "@" + idx + " is an index: Quay scans its platforms, not the index; scanning 2 platforms",
				"  linux/arm64    " + arm + ": critical 1, high 0, medium 0, low 1, unknown 1",
				"✗ CVE-2024-0001 [critical] openssl 3.0.7-1, fixed in 3.0.7-2: https://access.redhat.com/security/cve/CVE-2024-0001 (linux/arm64 only)",
				"✗ check-vulnerabilities failed: " + image + "@" + idx + " blocked by 1 critical vulnerability (1 fixable): critical 1, high 0, medium 0, low 1, unknown 1 (unpatched: critical 0, high 0, medium 0, low 1, unknown 1); worst of 2 platforms per severity",
				"  likely cause: Quay's scan of " + image + "@" + idx + " found 1 critical vulnerability (1 fixable): CVE-2024-0001",
			},
			outHas: []string{"  fix: rebuild on a patched base image"},
			wantResults: map[string]string{
				"SCAN_OUTPUT":    `{"vulnerabilities":{"critical":1,"high":0,"medium":0,"low":1,"unknown":1},"unpatched_vulnerabilities":{"critical":0,"high":0,"medium":0,"low":1,"unknown":1}}`,
				"CRITICAL_COUNT": "1"}},
		{name: "index without platform digests fails closed", wantCode: 1,
			outHas: []string{"✗ check-vulnerabilities failed: Quay does not scan " + image + "@" + idx + " (status unsupported) and no per-platform digests were given",
				"  likely cause: Quay does not scan " + image + "@" + idx + " (status unsupported): it is a manifest list"}},
		{name: "queued, then scanned", env: map[string]string{"PINNED_DIGEST": queued, "POLL_INTERVAL": "10ms"},
			outHas:      []string{"  scan queued for " + queued + " (elapsed 0s)\n", "✓ no critical vulnerabilities in "},
			wantResults: map[string]string{"SCAN_OUTPUT": `{"vulnerabilities":{"critical":0,"high":0,"medium":0,"low":1,"unknown":1},"unpatched_vulnerabilities":{"critical":0,"high":0,"medium":0,"low":1,"unknown":1}}`, "CRITICAL_COUNT": "0"}},
		{name: "not in Quay", env: map[string]string{"PINNED_DIGEST": missing}, wantCode: 1,
			outHas: []string{"✗ check-vulnerabilities failed: manifest " + missing + " not found in Quay repository " + repo,
				"  likely cause: Quay answered 404 for " + missing + " in repository " + image}},
		{name: "token is sent, never printed", env: map[string]string{"PINNED_DIGEST": missing, "TOKEN_FILE": tokenFile, "TOKEN_SECRET": "my-quay-token"}, wantCode: 1,
			outHas: []string{"fix: check staging_image and pinned_digest", "the OAuth token in Secret my-quay-token (key " + filepath.Base(tokenFile) + ")"}},
		{name: "invalid digest exits 2", env: map[string]string{"PINNED_DIGEST": "sha256:123"}, wantCode: 2,
			outHas: []string{"is not sha256:<64 lowercase hex>", "likely cause: a parameter is not valid"}},
		{name: "http to a remote Quay exits 2", env: map[string]string{"QUAY_API_URL": "http://quay.io"}, wantCode: 2,
			outHas: []string{"plain http"}},
		{name: "skip", env: map[string]string{"SKIP": "true", "PINNED_DIGEST": ""},
			wantLines:   []string{"- vulnerability gate skipped (skip=true)"},
			wantResults: map[string]string{"SCAN_OUTPUT": `{"skipped":true}`, "CRITICAL_COUNT": "skipped"}},
		{name: "json log format", env: map[string]string{"LOG_FORMAT": "json", "PLATFORM_DIGESTS": "linux/amd64=" + amd + ",linux/arm64=" + arm}, wantCode: 1,
			outHas:      []string{`"level":"fail","msg":"CVE-2024-0001 [critical]`, `"id":"critical-vulnerabilities"`},
			wantResults: map[string]string{"SCAN_OUTPUT": `{"vulnerabilities":{"critical":1,"high":0,"medium":0,"low":1,"unknown":1},"unpatched_vulnerabilities":{"critical":0,"high":0,"medium":0,"low":1,"unknown":1}}`, "CRITICAL_COUNT": "1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			results := filepath.Join(t.TempDir(), "results")
			absent := t.TempDir()
			env := []string{
				"PATH=" + os.Getenv("PATH"),
				"STAGING_IMAGE=" + image,
				"PINNED_DIGEST=" + idx,
				"PLATFORM_DIGESTS=",
				"QUAY_API_URL=" + q.URL,
				// As the StepAction passes it: the step's results folder, named through one result.
				"RESULTS_DIR=" + results + "/SCAN_OUTPUT/..",
				// As a Task passes Secrets and ConfigMaps that are absent under their default
				// names: a path in a mount that holds nothing (not configured).
				"TOKEN_FILE=" + filepath.Join(absent, "quay-token", "token"),
				"DOCKER_CONFIG_FILE=" + filepath.Join(absent, "registry-credentials", ".dockerconfigjson"),
				"CA_FILE=" + filepath.Join(absent, "ca-bundle", "ca-bundle.crt"),
				"POLL_INTERVAL=1ms",
			}
			for k, v := range tt.env {
				env = append(env, k+"="+v)
			}
			r := stepexec.Run(t, bin, env)
			code := r.Code
			assert.Equal(t, tt.wantCode, code, "output:\n%s", r.Output)
			lines := strings.Split(r.Output, "\n")
			for _, l := range tt.wantLines {
				assert.Contains(t, lines, l, "output:\n%s", r.Output)
			}
			for _, s := range tt.outHas {
				assert.Contains(t, r.Output, s)
			}
			assert.NotContains(t, r.Output, token)
			got := map[string]string{}
			for _, n := range []string{"SCAN_OUTPUT", "CRITICAL_COUNT"} {
				if b, err := os.ReadFile(filepath.Join(results, n)); err == nil {
					got[n] = string(b)
				}
			}
			if tt.wantResults == nil {
				assert.Empty(t, got)
			} else {
				assert.Equal(t, tt.wantResults, got)
			}
		})
	}
	var sent bool
	for _, h := range q.authHeaders() {
		if h == "Bearer "+token {
			sent = true
		}
	}
	assert.True(t, sent, "the token file was sent as a bearer token")
}

// TestTaskEnv: the generated Task sets every setting the binary reads that has a param (and
// the runtime's own, RESULTS_DIR and RESULTS_BUDGET), nothing the binary does not read besides
// the Go runtime's GOMEMLIMIT, and declares the results the gate writes (the contract test in
// test/contract checks the same for every step).
func TestTaskEnv(t *testing.T) {
	root, err := tools.Root()
	require.NoError(t, err)
	b, err := os.ReadFile(filepath.Join(root, "tasks/check-vulnerabilities/0.1/check-vulnerabilities.yaml"))
	require.NoError(t, err)
	obj, err := tekton.Decode(b)
	require.NoError(t, err)
	task, ok := obj.(*v1.Task)
	require.True(t, ok, "%T", obj)
	require.Len(t, task.Spec.Steps, 1)
	steps, err := v1.MergeStepsWithStepTemplate(task.Spec.StepTemplate, task.Spec.Steps)
	require.NoError(t, err)
	var set []string
	for _, e := range steps[0].Env {
		if e.Name != "GOMEMLIMIT" {
			set = append(set, e.Name)
		}
	}
	fields, err := step.EnvFields(&Config{})
	require.NoError(t, err)
	var read []string
	for _, f := range fields {
		if f.Param() != "" || f.Env == "RESULTS_DIR" || f.Env == "RESULTS_BUDGET" {
			read = append(read, f.Env)
		}
	}
	assert.ElementsMatch(t, read, set)
	var results []string
	for _, r := range task.Spec.Results {
		results = append(results, r.Name)
	}
	assert.ElementsMatch(t, []string{string(ResultScanOutput), string(ResultCriticalCount)}, results)
}
