package step

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/release-to-prod/release-to-prod/pkg/step/failure"
	"github.com/release-to-prod/release-to-prod/pkg/step/knowledge"
)

func TestFailureWithTeamKnowledge(t *testing.T) {
	t.Setenv("COMMIT_SHA", "abc")
	store, warns := knowledge.Decode(map[string]any{knowledge.LearnedFixesKey: map[string]any{"version": 1, "fixes": []any{
		map[string]any{"match": map[string]any{"step": "gate", "failure": "image-not-found"}, "cause": "the build queue is long today", "fix": "wait 30 minutes", "by": "alice"},
		map[string]any{"match": map[string]any{"pattern": "^quota"}, "cause": "the tenant quota is used up", "fix": "ask for more", "replace": true},
	}}})
	require.Empty(t, warns)
	store.Namespace, store.ConfigMap = "tenant", "release-knowledge"
	file := filepath.Join(t.TempDir(), "knowledge.json")
	require.NoError(t, knowledge.WriteFile(file, store))

	tests := []struct {
		name       string
		file       string
		err        error
		outHas     []string
		adviceHas  []string
		unknownHas string
	}{
		{name: "adds to the catalog", file: file, err: failure.New(failure.ImageNotFound, map[string]string{"image": "quay.io/a/b:c"}, "no image"),
			outHas:    []string{"likely cause: the image quay.io/a/b:c does not exist", "team knowledge (from the team knowledge store (ConfigMap release-knowledge in tenant), by alice):", "    likely cause: the build queue is long today", "    fix: wait 30 minutes"},
			adviceHas: []string{"the image quay.io/a/b:c does not exist", "team knowledge, by alice: the build queue is long today", "; team knowledge, by alice: wait 30 minutes"}},
		{name: "replaces", file: file, err: errors.New("quota exceeded for releases"),
			outHas:    []string{"likely cause: the tenant quota is used up\n  fix: ask for more\n  (team knowledge, from the team knowledge store"},
			adviceHas: []string{"the tenant quota is used up [team knowledge]\nask for more [team knowledge]"}},
		{name: "unknown: fingerprint and teach command", file: file, err: errors.New("the frobnicator broke"),
			outHas:     []string{"no known cause yet: this failure is new to the catalog and the team (fingerprint ", "tkn-local failures teach ", " -n tenant --cause", "kubectl edit configmap release-knowledge -n tenant", "- match: {step: gate, fingerprint: "},
			unknownHas: `"message":"the frobnicator broke"`},
		{name: "missing file: the catalog alone, a warning", file: filepath.Join(t.TempDir(), "none"), err: failure.New(failure.ImageNotFound, nil, "no image"),
			outHas:    []string{"! no team knowledge: ", "does not exist (check-known-issues did not run before this step)", "likely cause: the image for this commit does not exist"},
			adviceHas: []string{"the image for this commit does not exist"}},
		{name: "no file set: placeholders in the teach command", err: errors.New("boom"),
			outHas: []string{"tkn-local failures teach ", " -n <namespace> --cause"}, unknownHas: `"step":"gate"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "results")
			var out bytes.Buffer
			args := []string{"--results-dir=" + dir}
			if tt.file != "" {
				args = append(args, "--knowledge-file="+tt.file)
			}
			code := Run(context.Background(), "gate", args, &out, &testConfig{}, func(ctx context.Context, s *Step, c *testConfig) error { return tt.err })
			assert.Equal(t, ExitFailed, code)
			for _, h := range tt.outHas {
				assert.Contains(t, out.String(), h)
			}
			advice, aerr := os.ReadFile(filepath.Join(dir, AdviceFile))
			unknown, uerr := os.ReadFile(filepath.Join(dir, knowledge.UnmatchedFile))
			if tt.unknownHas != "" {
				assert.Error(t, aerr, "no advice without a cause")
				require.NoError(t, uerr)
				assert.Contains(t, string(unknown), tt.unknownHas)
				return
			}
			require.NoError(t, aerr)
			assert.Error(t, uerr)
			for _, h := range tt.adviceHas {
				assert.Contains(t, string(advice), h)
			}
			assert.Len(t, strings.Split(string(advice), "\n"), 2)
		})
	}
}

func TestFailureJSONWithTeamKnowledge(t *testing.T) {
	t.Setenv("COMMIT_SHA", "abc")
	var out bytes.Buffer
	code := Run(context.Background(), "gate", []string{"--results-dir=" + t.TempDir(), "--log-format=json"}, &out, &testConfig{},
		func(ctx context.Context, s *Step, c *testConfig) error { return errors.New("boom") })
	assert.Equal(t, ExitFailed, code)
	assert.Contains(t, out.String(), `"fingerprint":"`)
	assert.Contains(t, out.String(), `"teach":"once you know its cause`)
}
