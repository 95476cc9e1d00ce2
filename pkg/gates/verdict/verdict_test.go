package verdict

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/release-to-prod/release-to-prod/pkg/step"
	"github.com/release-to-prod/release-to-prod/pkg/step/knowledge"
)

func TestRun(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
		return p
	}
	ok, blocked, bad, killed := write("ok", "0"), write("blocked", "1"), write("bad", "2"), write("killed", "killed")
	missing := filepath.Join(dir, "missing")
	for _, tc := range []struct {
		name, gates     string
		code            int
		summary, failed string
		out             []string
	}{
		{"all pass", "image=" + ok + ",alerts=" + ok, 0, "image ✓, alerts ✓", "", []string{"all 2 gates passed"}},
		{"several fail", "image=" + ok + ",alerts=" + blocked + ",vulns=" + bad + ",saas=" + missing, 1,
			"image ✓, alerts ✗, vulns ✗, saas ✗", "alerts,vulns,saas",
			[]string{"blocked (exit 1)", "invalid input (exit 2)", "did not run", "3 of 4 gates blocked the release: alerts, vulns, saas"}},
		{"cancelled", "image=" + killed, 1, "image ✗", "image", []string{"blocked (exit 128)"}},
		{"no gates", " , ", step.ExitBadArgs, "", "", []string{"no gate given"}},
		{"not a pair", "image", step.ExitBadArgs, "", "", []string{"not name=exit-code-file"}},
		{"twice", "a=" + ok + ",a=" + ok, step.ExitBadArgs, "", "", []string{"listed twice"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			results := t.TempDir()
			t.Setenv("GATES", tc.gates)
			t.Setenv("RESULTS_DIR", results)
			var out bytes.Buffer
			code := step.Run(context.Background(), "gate-verdict", nil, &out, &Config{}, Run)
			assert.Equal(t, tc.code, code, out.String())
			for _, s := range tc.out {
				assert.Contains(t, out.String(), s)
			}
			if tc.code == step.ExitBadArgs {
				return
			}
			b, err := os.ReadFile(filepath.Join(results, "GATE_SUMMARY"))
			require.NoError(t, err)
			assert.Equal(t, tc.summary, string(b))
			b, err = os.ReadFile(filepath.Join(results, "FAILED_GATES"))
			require.NoError(t, err)
			assert.Equal(t, tc.failed, string(b))
		})
	}
}

// TestAdvice: a failed gate's ADVICE, left beside its exit code by the step runtime, reaches
// the output and the FAILURE_CAUSE / FAILURE_FIX results, for every failed gate.
func TestAdvice(t *testing.T) {
	root := t.TempDir()
	gate := func(name, code, advice string) string {
		dir := filepath.Join(root, "step-"+name)
		require.NoError(t, os.MkdirAll(filepath.Join(dir, "results"), 0o755))
		if advice != "" {
			require.NoError(t, os.WriteFile(filepath.Join(dir, "results", step.AdviceFile), []byte(advice), 0o644))
		}
		p := filepath.Join(dir, "exitCode")
		require.NoError(t, os.WriteFile(p, []byte(code), 0o644))
		return name + "=" + p
	}
	gates := gate("image", "1", "the image does not exist\ncheck the build PipelineRun") + "," +
		gate("alerts", "0", "") + "," +
		gate("vulns", "1", "2 critical vulnerabilities\nrebuild on a patched base image") + "," +
		gate("saas", "1", "")
	results := t.TempDir()
	t.Setenv("GATES", gates)
	t.Setenv("RESULTS_DIR", results)
	var out bytes.Buffer
	code := step.Run(context.Background(), "gate-verdict", nil, &out, &Config{}, Run)
	require.Equal(t, 1, code)
	assert.Contains(t, out.String(), "✗ image: the image does not exist")
	assert.Contains(t, out.String(), "fix: rebuild on a patched base image")
	read := func(n string) string {
		b, err := os.ReadFile(filepath.Join(results, n))
		require.NoError(t, err)
		return string(b)
	}
	assert.Equal(t, "image: the image does not exist\nvulns: 2 critical vulnerabilities\nsaas: blocked (exit 1): see its log", read("FAILURE_CAUSE"))
	assert.Equal(t, "image: check the build PipelineRun\nvulns: rebuild on a patched base image", read("FAILURE_FIX"))
}

func FuzzParseGates(f *testing.F) {
	f.Add("image=/a,alerts=/b")
	f.Add("=,=")
	f.Fuzz(func(t *testing.T, s string) {
		pairs, err := ParseGates(s)
		if err == nil {
			assert.NotEmpty(t, pairs)
		}
	})
}

// TestUnknownFailures: a gate that failed without explanation leaves its fingerprint; the
// verdict collects it into UNKNOWN_FAILURES and says how to teach it.
func TestUnknownFailures(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "step-alerts")
	u := knowledge.Unmatched{Step: "check-alerts", ID: knowledge.UnknownID, Status: 407, Fingerprint: "0123456789ab", Message: "Alertmanager: GET …: 407 Proxy Authentication Required"}
	require.NoError(t, knowledge.WriteUnmatched(filepath.Join(dir, "results"), u))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "exitCode"), []byte("1"), 0o644))
	k := &knowledge.Store{Namespace: "tenant"}
	file := filepath.Join(root, "knowledge.json")
	require.NoError(t, knowledge.WriteFile(file, k))
	results := t.TempDir()
	t.Setenv("GATES", "alerts="+filepath.Join(dir, "exitCode"))
	t.Setenv("RESULTS_DIR", results)
	t.Setenv("KNOWLEDGE_FILE", file)
	var out bytes.Buffer
	assert.Equal(t, 1, step.Run(context.Background(), "gate-verdict", nil, &out, &Config{}, Run))
	assert.Contains(t, out.String(), "alerts: no known cause yet: once its cause is known, teach it: tkn-local failures teach 0123456789ab -n tenant")
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(results, name))
		require.NoError(t, err)
		return string(b)
	}
	got, err := knowledge.DecodeUnmatched(read("UNKNOWN_FAILURES"))
	require.NoError(t, err)
	assert.Equal(t, []knowledge.Unmatched{u}, got)
	assert.Equal(t, "alerts: blocked (exit 1), no known cause yet (fingerprint 0123456789ab): Alertmanager: GET …: 407 Proxy Authentication Required", read("FAILURE_CAUSE"))
	assert.Contains(t, read("FAILURE_FIX"), "alerts: once its cause is known, teach it: tkn-local failures teach 0123456789ab -n tenant")
}
