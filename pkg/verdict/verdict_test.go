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
