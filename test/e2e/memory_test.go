package e2e

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/release-to-prod/release-to-prod/pkg/build/tektongen"
	"github.com/release-to-prod/release-to-prod/pkg/clients/konflux"
	"github.com/release-to-prod/release-to-prod/test/sandbox"
)

// memoryShare is the part of its memory limit a step's measured peak RSS may reach: above it
// a busier cluster, a bigger namespace or a larger reply is an OOM kill away.
const memoryShare = 0.80

// TestStepMemory runs the whole Pipeline twice, once releasing in a fresh tenant and once as a
// dry run in a namespace holding 10,000 Snapshots and 10,000 Releases besides the tenant's own
// (the scale the Kubernetes-reading steps are sized for) with a large Quay report, and fails when any step's peak
// RSS exceeds 80% of the memory limit its container gets: a limit can never silently sit
// below the real peak. It prints one "step-memory" line per step for make bench.
//
// STEP_MEMORY_OBJECTS sets the number of Snapshots and of Releases (default 10000).
func TestStepMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("seeds 20,000 objects")
	}
	n := 10_000
	if v := os.Getenv("STEP_MEMORY_OBJECTS"); v != "" {
		var err error
		n, err = strconv.Atoi(v)
		require.NoError(t, err, "STEP_MEMORY_OBJECTS")
	}
	k := newPipelineKit(t)
	type measured struct{ peak, limit int64 }
	steps := map[string]measured{}
	measure := func(r *pipelineRun) {
		t.Helper()
		require.NoError(t, r.Err)
		require.True(t, r.Succeeded(), r.statuses())
		for _, task := range r.Tasks {
			for _, s := range task.Steps {
				if s.Status == "Skipped" {
					continue
				}
				m := steps[s.Name]
				m.peak = max(m.peak, s.PeakRSS)
				m.limit = s.MemoryLimit
				steps[s.Name] = m
			}
		}
	}

	// A release, so that create-release's wait on the Release service is measured too.
	rel := k.tenant(t, "memory-release", sandbox.TenantOptions{})
	measure(k.run(t, k.params(rel), rel.Workspaces))

	// The scale case, as a dry run: the release-service stand-in would take up every noise
	// Release, and a dry run needs none. Quay's reply is as large as a big image's: 1,000
	// packages with 4 vulnerabilities each (none critical), about 1.5 MB of JSON.
	k.rs.Stop()
	tn := k.tenant(t, "memory-scale", sandbox.TenantOptions{})
	big := sandbox.LargeQuayReport()
	for _, d := range sortedValues(tn.Platforms) {
		k.s.Registry.Quay.SetSecurity(tn.QuayRepo, d, big)
	}
	seedNoise(t, k.s, tn.Tenant, n)
	measure(k.run(t, k.params(tn, "dry_run", "true"), tn.Workspaces))

	for _, s := range tektongen.Steps {
		m, ok := steps[s.Name]
		if !ok {
			t.Errorf("step %s did not run in the dry run: its memory is not measured", s.Name)
			continue
		}
		if m.peak <= 0 || m.limit <= 0 {
			t.Errorf("step %s: peak RSS %d bytes, limit %d bytes: both must be known", s.Name, m.peak, m.limit)
			continue
		}
		share := float64(m.peak) / float64(m.limit)
		// Parsed by test/bench: keep the format.
		t.Logf("step-memory %s peak=%d limit=%d objects=%d", s.Name, m.peak, m.limit, n)
		if share > memoryShare {
			t.Errorf("step %s: peak RSS %.1f MB is %.0f%% of its %s limit (at most %.0f%%): raise Memory in pkg/build/tektongen/steps.go and run make generate",
				s.Name, float64(m.peak)/1e6, share*100, s.Memory, memoryShare*100)
		}
	}
	names := make([]string, 0, len(steps))
	for name := range steps {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if tektongen.StepNamed(name) == nil {
			t.Errorf("step %s ran but is not in tektongen.Steps", name)
		}
	}
}

// seedNoise adds n Snapshots and n Releases of other commits of the tenant's component, as a
// long-lived tenant's namespace holds them.
func seedNoise(t *testing.T, s *sandbox.Sandbox, tn *sandbox.Tenant, n int) {
	t.Helper()
	ctx := context.Background()
	other := func(i int) string { return fmt.Sprintf("%040x", i+1) }
	start := time.Now()
	require.NoError(t, s.CreateMany(ctx, sandbox.Snapshots, tn.Namespace, n, 16, func(i int) map[string]any {
		return map[string]any{
			"metadata": map[string]any{"name": fmt.Sprintf("noise-snap-%d", i), "labels": map[string]any{
				konflux.LabelComponent: tn.Component, konflux.LabelSHA: other(i), konflux.LabelEventType: "push", konflux.LabelApplication: tn.Application}},
			"spec": map[string]any{"application": tn.Application, "components": []any{map[string]any{"name": tn.Component, "containerImage": tn.Repository + "@" + tn.Digest}}},
		}
	}))
	require.NoError(t, s.CreateMany(ctx, sandbox.Releases, tn.Namespace, n, 16, func(i int) map[string]any {
		return map[string]any{
			"metadata": map[string]any{"name": fmt.Sprintf("noise-release-%d", i), "labels": map[string]any{
				konflux.LabelComponent: tn.Component, konflux.LabelSHA: other(i), konflux.LabelReleasePlan: tn.ReleasePlan}},
			"spec": map[string]any{"snapshot": fmt.Sprintf("noise-snap-%d", i), "releasePlan": tn.ReleasePlan},
		}
	}))
	t.Logf("created %d Snapshots and %d Releases in %s", n, n, time.Since(start).Round(time.Millisecond))
}
