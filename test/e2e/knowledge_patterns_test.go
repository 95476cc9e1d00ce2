package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/release-to-prod/release-to-prod/pkg/build/tektongen"
	"github.com/release-to-prod/release-to-prod/pkg/step/knowledge"
	"github.com/release-to-prod/release-to-prod/test/stepexec"
)

// TestHostilePatternsStore hands a failing step (check-alerts, its Alertmanager answering 407)
// a knowledge file of 200 hostile learned-fix patterns — strings.Repeat("[^!]{0,999}", 22)+"!",
// 243 bytes of valid RE2, 2 MiB and seconds each when compiled — and one of 200 patterns at
// the complexity limit, each matched against the failure: the step's peak RSS stays within
// 80% of its container's memory limit, and its CPU time is under 50 ms more than with an
// empty store. The hostile patterns are refused (warned about), never compiled.
func TestHostilePatternsStore(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs a step")
	}
	bin := stepexec.Build(t, "check-alerts")
	launcher := stepexec.BuildLauncher(t)
	am := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "proxy authentication required "+strings.Repeat("a", 2000), http.StatusProxyAuthRequired)
	}))
	t.Cleanup(am.Close)
	spec := tektongen.StepNamed("check-alerts")
	require.NotNil(t, spec)
	limit := parseMi(t, spec.Memory)

	hostile := strings.Repeat("[^!]{0,999}", 22) + "!"
	atLimit := func(i int) string {
		// 200 instructions as the budget counts them, every state alive on text without "!".
		for k := 24; k > 0; k-- {
			p := fmt.Sprintf("(?:%d)?%s[^!]{0,%d}!", i, strings.Repeat("[^!]{0,24}", 3), k)
			if n, err := knowledge.PatternCost(p); err == nil {
				return p + strings.Repeat("!", knowledge.MaxPatternProgram-n)
			}
		}
		t.Fatal("no pattern at the limit")
		return ""
	}
	stores := map[string]func(int) string{"empty": nil, "200 hostile": func(int) string { return hostile }, "200 at the limit": atLimit}
	measured := map[string]time.Duration{}
	for _, name := range []string{"empty", "200 hostile", "200 at the limit"} {
		file := writeRawKnowledge(t, stores[name])
		best := time.Hour
		var peak int64
		var out string
		for range 3 { // the best of three: the machine is shared
			cpu, rss, o, code := runMeasured(t, launcher, bin, []string{"ALERTMANAGER_URL=" + am.URL, "TIMEOUT=5s", "KNOWLEDGE_FILE=" + file})
			require.Equal(t, 1, code, o)
			best, peak, out = min(best, cpu), max(peak, rss), o
		}
		measured[name] = best
		t.Logf("%s: CPU %v, peak RSS %.1f MB of %.1f MB", name, best, float64(peak)/1e6, float64(limit)/1e6)
		assert.Less(t, float64(peak), memoryShare*float64(limit), "%s: peak RSS within %.0f%% of the limit", name, memoryShare*100)
		if name == "200 hostile" {
			assert.Contains(t, out, `entry "h0" skipped: match: pattern is too complex: a repeat count of 999 is over the limit of 100`)
		}
		if name == "200 at the limit" {
			assert.Contains(t, out, "brings the store's patterns over their limit")
		}
	}
	for _, name := range []string{"200 hostile", "200 at the limit"} {
		assert.Less(t, measured[name]-measured["empty"], 50*time.Millisecond, "%s adds under 50 ms", name)
	}
}

// writeRawKnowledge writes a knowledge file as check-known-issues would hand it on, but with
// the learned fixes unvalidated (as a store edited by hand holds them): n entries of pattern.
func writeRawKnowledge(t *testing.T, pattern func(int) string) string {
	t.Helper()
	var fixes []any
	for i := range knowledge.MaxLearnedFixes {
		if pattern == nil {
			break
		}
		fixes = append(fixes, map[string]any{"id": fmt.Sprintf("h%d", i), "match": map[string]any{"pattern": pattern(i)}, "cause": "c", "fix": "f"})
	}
	b, err := json.Marshal(map[string]any{"version": knowledge.Version, "namespace": "tenant", "configMap": "release-knowledge", "found": true,
		"documents": map[string]any{knowledge.LearnedFixesKey: map[string]any{"version": knowledge.Version, "fixes": fixes}}})
	require.NoError(t, err)
	p := filepath.Join(t.TempDir(), "knowledge.json")
	require.NoError(t, os.WriteFile(p, b, 0o644))
	return p
}

// runMeasured runs bin with exactly env through the peak-rss launcher (a process's own
// ru_maxrss starts from the test binary's size) and returns its CPU time (user and system, the
// launcher's few included), its peak RSS in bytes, its output and its exit code.
func runMeasured(t *testing.T, launcher, bin string, env []string) (time.Duration, int64, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	peakFile := filepath.Join(t.TempDir(), "peak")
	cmd := exec.CommandContext(ctx, launcher, peakFile, bin)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "RESULTS_DIR=" + t.TempDir()}, env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if _, exit := err.(*exec.ExitError); err != nil && !exit {
		t.Fatalf("running %s: %v", bin, err)
	}
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	require.True(t, ok, "no rusage")
	cpu := time.Duration(syscall.TimevalToNsec(ru.Utime) + syscall.TimevalToNsec(ru.Stime))
	b, err := os.ReadFile(peakFile)
	require.NoError(t, err, "the launcher's peak RSS")
	peak, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	require.NoError(t, err)
	return cpu, peak, out.String(), cmd.ProcessState.ExitCode()
}

// parseMi reads a memory limit such as "32Mi".
func parseMi(t *testing.T, s string) int64 {
	t.Helper()
	var n int64
	_, err := fmt.Sscanf(s, "%dMi", &n)
	require.NoError(t, err, "memory %q", s)
	return n << 20
}
