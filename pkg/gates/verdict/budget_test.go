package verdict

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/release-to-prod/release-to-prod/pkg/build/tekton"
	"github.com/release-to-prod/release-to-prod/pkg/step"
	"github.com/release-to-prod/release-to-prod/pkg/step/failure"
)

// TestWorstCaseFitsThePreflightPod: every gate of the preflight pod failing at once, each with
// the longest advice the catalog has (as long as a step's ADVICE file may be), still leaves a
// verdict whose termination message fits what the kubelet keeps for one of the pod's
// containers — so the report gets it whole, never a truncated, unreadable message.
func TestWorstCaseFitsThePreflightPod(t *testing.T) {
	entries := failure.Entries()
	sort.Slice(entries, func(i, j int) bool {
		return len(entries[i].Cause)+len(entries[i].Fix) > len(entries[j].Cause)+len(entries[j].Fix)
	})
	long := func(s string) string { return strings.Repeat(s+" ", 480/len(s)+1)[:480] } // a step's ADVICE line cap
	dir := t.TempDir()
	var gates []string
	for i, name := range []string{"image", "konflux", "alerts", "vulnerabilities", "app-interface"} {
		stepDir := filepath.Join(dir, "step-"+name)
		require.NoError(t, os.MkdirAll(filepath.Join(stepDir, "results"), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(stepDir, "exitCode"), []byte("1"), 0o644))
		e := entries[i%len(entries)]
		advice := long(e.Cause+" <&> «ü»") + "\n" + long(e.Fix+" \"quoted\" \\ ")
		require.NoError(t, os.WriteFile(filepath.Join(stepDir, "results", step.AdviceFile), []byte(advice), 0o644))
		gates = append(gates, name+"="+filepath.Join(stepDir, "exitCode"))
	}
	// check-input, five gates, gate-verdict (and room for more steps): make generate tells each
	// step its budget from the pod it is in.
	for _, podSteps := range []int{7, 8, 9} {
		t.Run(fmt.Sprintf("%d steps", podSteps), func(t *testing.T) { worstCase(t, dir, gates, entries, podSteps) })
	}
}

func worstCase(t *testing.T, dir string, gates []string, entries []failure.Entry, podSteps int) {
	long := func(s string) string { return strings.Repeat(s+" ", 480/len(s)+1)[:480] }
	results := filepath.Join(dir, fmt.Sprintf("verdict-%d", podSteps))
	t.Setenv("GATES", strings.Join(gates, ","))
	t.Setenv("RESULTS_DIR", results)
	t.Setenv("RESULTS_BUDGET", fmt.Sprint(tekton.ResultsBudget(podSteps)))
	var out bytes.Buffer
	code := step.Run(context.Background(), "gate-verdict", nil, &out, &Config{}, Run)
	assert.Equal(t, step.ExitFailed, code, out.String())

	got := map[string]string{}
	for _, r := range []string{"GATE_SUMMARY", "FAILED_GATES", "FAILURE_CAUSE", "FAILURE_FIX"} {
		b, err := os.ReadFile(filepath.Join(results, r))
		require.NoError(t, err, "result %s written: %s", r, out.String())
		got[r] = string(b)
	}
	assert.Equal(t, "image,konflux,alerts,vulnerabilities,app-interface", got["FAILED_GATES"])
	for _, g := range []string{"image", "konflux", "alerts", "vulnerabilities", "app-interface"} {
		assert.Contains(t, got["FAILURE_CAUSE"], g+": ", "every failed gate keeps its name")
		assert.Contains(t, got["FAILURE_FIX"], g+": ")
	}
	assert.Contains(t, got["FAILURE_CAUSE"], "(see the log)", "cut, and says where the rest is")
	// The whole advice is in the log.
	assert.Contains(t, out.String(), long(entries[0].Cause + " <&> «ü»")[:200])
	// What the entrypoint writes: the results plus its own entries, within the container's share.
	size := step.EncodedSize(got) + tekton.EntrypointOverhead
	assert.LessOrEqual(t, size, tekton.ContainerBudget(podSteps), "termination message %d bytes", size)
}
