package knownissues

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/release-to-prod/release-to-prod/pkg/step"
	"github.com/release-to-prod/release-to-prod/pkg/step/failure"
	"github.com/release-to-prod/release-to-prod/pkg/step/knowledge"
)

func TestFinish(t *testing.T) {
	now := time.Date(2026, 3, 5, 12, 0, 0, 0, time.UTC)
	store := func(entries ...any) *knowledge.Store {
		k, warns := knowledge.Decode(map[string]any{knowledge.KnownIssuesKey: map[string]any{"version": 1, "issues": entries}})
		require.Empty(t, warns)
		k.Namespace, k.ConfigMap, k.Found = "tenant", "release-knowledge", true
		return k
	}
	tests := []struct {
		name    string
		store   *knowledge.Store
		blocks  bool
		result  string
		outHas  []string
		outNot  []string
		causeIs string
	}{
		{name: "none", store: store(), outHas: []string{"✓ no active known issue"}},
		{name: "active and expired", store: store(
			map[string]any{"service": "quay", "message": "scans delayed", "expires": "2026-03-05"},
			map[string]any{"id": "old", "message": "gone", "expires": "2026-03-04"}),
			result: "quay: scans delayed (until 2026-03-06T00:00:00Z)",
			outHas: []string{"! known issue: quay: scans delayed", "- known issue old expired 2026-03-05T00:00:00Z: ignored"}, outNot: []string{"! known issue: any: gone"}},
		{name: "blocking", store: store(
			map[string]any{"service": "konflux", "message": "release freeze", "blocks": true},
			map[string]any{"service": "quay", "message": "slow"}),
			blocks: true, result: "konflux: release freeze\nquay: slow",
			outHas:  []string{"✗ known issue (blocks releases): konflux: release freeze"},
			causeIs: "the team marked a known issue as blocking releases: konflux: release freeze"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			dir := t.TempDir()
			s := step.NewStep("check-known-issues", &out, "text", dir)
			cfg := &Config{Common: step.Common{KnowledgeFile: filepath.Join(dir, "k.json")}}
			err := finish(s, cfg, tt.store, now)
			if tt.blocks {
				require.Error(t, err)
				a, ok := failure.Explain(err)
				require.True(t, ok)
				assert.Equal(t, failure.KnownIssueBlocks, a.ID)
				assert.Equal(t, tt.causeIs, a.Cause)
				assert.Contains(t, a.Fix, "kubectl edit configmap release-knowledge -n tenant")
			} else {
				require.NoError(t, err)
			}
			b, err := os.ReadFile(filepath.Join(dir, "KNOWN_ISSUES"))
			require.NoError(t, err)
			assert.Equal(t, tt.result, string(b))
			for _, h := range tt.outHas {
				assert.Contains(t, out.String(), h)
			}
			for _, h := range tt.outNot {
				assert.NotContains(t, out.String(), h)
			}
			back, _, err := knowledge.ReadFile(cfg.KnowledgeFile)
			require.NoError(t, err, "the store is handed on")
			assert.Equal(t, "tenant", back.Namespace)
		})
	}
}

func TestResultIsBounded(t *testing.T) {
	var lines []string
	for i := range 30 {
		lines = append(lines, fmt.Sprintf("quay: issue %d %s", i, strings.Repeat("x", 150)))
	}
	r := result(lines)
	assert.LessOrEqual(t, len(r), MaxResult)
	assert.Contains(t, r, "more (see the check-known-issues log)")
	assert.Equal(t, "", result(nil))
}

func TestNoStoreConfigured(t *testing.T) {
	var out bytes.Buffer
	dir := t.TempDir()
	s := step.NewStep("check-known-issues", &out, "text", dir)
	cfg := &Config{Tenant: step.Tenant{Namespace: "tenant"}, Common: step.Common{KnowledgeFile: filepath.Join(dir, "k.json")}}
	require.NoError(t, Run(context.Background(), s, cfg))
	assert.Contains(t, out.String(), "- no team knowledge store (KNOWLEDGE_CONFIGMAP is empty)")
	_, err := os.Stat(cfg.KnowledgeFile)
	assert.NoError(t, err, "an empty store is still handed on, so that later steps do not warn")
}

// TestFailsClosedOnUnreadableIssues: a warning that may hide a blocking issue stops the
// release, naming the entry and the fix; the readable issues are still printed and handed on.
func TestFailsClosedOnUnreadableIssues(t *testing.T) {
	now := time.Date(2026, 3, 5, 12, 0, 0, 0, time.UTC)
	k, warns := knowledge.DecodeAt(map[string]any{knowledge.KnownIssuesKey: map[string]any{"version": 1, "issues": []any{
		map[string]any{"id": "freeze", "message": "release freeze", "blocks": "yes"},
		map[string]any{"id": "slow", "service": "quay", "message": "scans slow"},
		map[string]any{"id": "typo", "message": "m", "expires": "soon", "blocks": false},
	}}}, now)
	k.Namespace, k.ConfigMap, k.Found = "tenant", "release-knowledge", true
	require.Len(t, warns, 2)
	var out bytes.Buffer
	dir := t.TempDir()
	s := step.NewStep("check-known-issues", &out, "text", dir)
	cfg := &Config{Common: step.Common{KnowledgeFile: filepath.Join(dir, "k.json")}}
	err := finish(s, cfg, k, now, warns...)
	require.Error(t, err)
	a, ok := failure.Explain(err)
	require.True(t, ok)
	assert.Equal(t, failure.KnownIssuesUnreadable, a.ID)
	assert.Contains(t, a.Cause, `entry "freeze" skipped: blocks is not true or false`)
	assert.NotContains(t, a.Cause, `"typo"`, "an entry that says blocks: false is only a warning")
	assert.Contains(t, a.Fix, "kubectl edit configmap release-knowledge -n tenant")
	assert.Contains(t, a.Fix, "write blocks: true or blocks: false")
	assert.Contains(t, out.String(), `✗ team knowledge: known-issues.yaml: entry "freeze" skipped: blocks is not true or false; it may be a blocking known issue`)
	assert.Contains(t, out.String(), `! team knowledge: known-issues.yaml: entry "typo" skipped`)
	assert.Contains(t, out.String(), "! known issue: quay: scans slow")
	b, err := os.ReadFile(filepath.Join(dir, "KNOWN_ISSUES"))
	require.NoError(t, err)
	assert.Equal(t, "quay: scans slow", string(b))
}

// TestExpiredIssuesAreCounted: many expired issues are named up to a bound, then counted.
func TestExpiredIssuesAreCounted(t *testing.T) {
	now := time.Date(2026, 3, 5, 12, 0, 0, 0, time.UTC)
	var list []any
	for i := range 60 {
		list = append(list, map[string]any{"id": fmt.Sprintf("old-%d", i), "message": "m", "expires": "2026-01-01"})
	}
	list = append(list, map[string]any{"id": "freeze", "message": "release freeze", "blocks": true})
	k, warns := knowledge.DecodeAt(map[string]any{knowledge.KnownIssuesKey: map[string]any{"version": 1, "issues": list}}, now)
	require.Empty(t, warns)
	var out bytes.Buffer
	s := step.NewStep("check-known-issues", &out, "text", t.TempDir())
	err := finish(s, &Config{}, k, now)
	a, ok := failure.Explain(err)
	require.True(t, ok, "%v", err)
	assert.Equal(t, failure.KnownIssueBlocks, a.ID, "60 expired entries before it do not hide the blocking one")
	assert.Equal(t, maxExpiredLines, strings.Count(out.String(), "expired 2026-01-02T00:00:00Z"))
	assert.Contains(t, out.String(), "50 more expired known issues ignored")
}
