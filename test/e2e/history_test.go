package e2e

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/release-to-prod/release-to-prod/pkg/actions/history"
	"github.com/release-to-prod/release-to-prod/test/sandbox"
)

func kxReadHistory(t *testing.T, s *sandbox.Sandbox, ns, name string) []history.Entry {
	t.Helper()
	cm, err := s.Dynamic.Resource(sandbox.ConfigMaps).Namespace(ns).Get(context.Background(), name, metav1.GetOptions{})
	require.NoError(t, err)
	data, _, _ := unstructured.NestedString(cm.Object, "data", history.Key)
	entries, err := history.Decode(data)
	require.NoError(t, err)
	return entries
}

// TestRecordHistoryConcurrent: 20, then 50 record-history processes started at once, the
// ConfigMap not existing yet (so they also race to create it): every entry lands, none lost.
func TestRecordHistoryConcurrent(t *testing.T) {
	s := sandbox.New(t)
	for _, n := range []int{20, 50} {
		t.Run(fmt.Sprintf("%d writers", n), func(t *testing.T) {
			tn := kxSeed(t, s, fmt.Sprintf("history-race-%d", n), sandbox.TenantOptions{})
			procs := make([]*kxProc, n)
			for i := range procs {
				procs[i] = kxCommand(t, "record-history", kxEnv(s, tn,
					"SNAPSHOT", tn.Snapshot, "RELEASE_NAME", fmt.Sprintf("release-%02d", i), "STATUS", "Succeeded",
					"STARTED", "2026-03-01T10:00:00Z", "PIPELINE_RUN", fmt.Sprintf("release-to-prod-run-%02d", i)))
			}
			for _, p := range procs {
				require.NoError(t, p.cmd.Start())
			}
			for i, p := range procs {
				r, err := p.wait()
				require.NoError(t, err)
				assert.Equal(t, 0, r.Code, "process %d:\n%s", i, r.Output)
			}
			entries := kxReadHistory(t, s, tn.Namespace, "release-history")
			require.Len(t, entries, n, "no entry lost")
			seen := map[string]bool{}
			for _, e := range entries {
				seen[e.PipelineRun] = true
				assert.Equal(t, tn.SHA, e.SHA)
				assert.Equal(t, tn.Component, e.Component)
				assert.Equal(t, tn.Application, e.Application)
				assert.Equal(t, tn.Snapshot, e.Snapshot)
				assert.Equal(t, "Succeeded", e.Status)
				assert.Equal(t, "2026-03-01T10:00:00Z", e.Started)
				assert.NotEmpty(t, e.Finished)
			}
			for i := range n {
				assert.True(t, seen[fmt.Sprintf("release-to-prod-run-%02d", i)], "entry of run %d", i)
			}
		})
	}
}

// TestRecordHistoryBounded: newest first, the oldest dropped beyond HISTORY_LIMIT; the
// preflight then reads it.
func TestRecordHistoryBounded(t *testing.T) {
	s := sandbox.New(t)
	tn := kxSeed(t, s, "history-bound-tenant", sandbox.TenantOptions{})
	for i := range 5 {
		status := "Failed"
		if i == 4 {
			status = "Succeeded"
		}
		r := runStep(t, "record-history", kxEnv(s, tn, "RELEASE_NAME", fmt.Sprintf("release-%d", i), "STATUS", status,
			"HISTORY_LIMIT", "3", "HISTORY_CONFIGMAP", "release-history"))
		require.Equal(t, 0, r.Code)
		assert.Equal(t, fmt.Sprint(min(i+1, 3)), r.Results["HISTORY_ENTRIES"])
	}
	entries := kxReadHistory(t, s, tn.Namespace, "release-history")
	require.Len(t, entries, 3)
	assert.Equal(t, []string{"release-4", "release-3", "release-2"}, []string{entries[0].Release, entries[1].Release, entries[2].Release})

	r := runStep(t, "check-konflux", kxEnv(s, tn))
	require.Equal(t, 0, r.Code)
	assert.Equal(t, "true", r.Results["ALREADY_RELEASED"])
	assert.Equal(t, "release-4", r.Results["LATEST_RELEASE"])

	bad := runStep(t, "record-history", kxEnv(s, tn, "STATUS", "Succeeded", "STARTED", "yesterday"))
	assert.Equal(t, 2, bad.Code)
	assert.Contains(t, bad.Output, `STARTED="yesterday" is not an RFC 3339 time`)
}
