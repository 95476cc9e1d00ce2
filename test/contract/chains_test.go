package contract

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/release-to-prod/release-to-prod/pkg/build/tekton"
	"github.com/release-to-prod/release-to-prod/test/tools"
)

// TestChainsRules: no result of a Task, a step, a StepAction or a Pipeline matches Tekton
// Chains' type hinting (tekton.CheckChains, the rule make lint-tekton applies).
func TestChainsRules(t *testing.T) {
	require.NoError(t, load(t).CheckChains())
}

// TestChainsFixturesFail: each folder of testdata/chains names a result the way Chains reads as
// a built artifact; testdata/chains/valid names them for what they are.
func TestChainsFixturesFail(t *testing.T) {
	for _, tc := range []struct {
		dir  string
		want []string
	}{
		{"valid", nil},
		{"image-url", []string{"Task t: result IMAGE_URL matches Tekton Chains' type hinting (*IMAGE_URL)", "result IMAGE_DIGEST matches"}},
		{"images", []string{"Task t: result IMAGES matches Tekton Chains' type hinting (IMAGES)"}},
		{"artifact-outputs", []string{"result SCANNED_ARTIFACT_OUTPUTS matches Tekton Chains' type hinting (*ARTIFACT_OUTPUTS)"}},
		{"pipeline", []string{"Pipeline p: result IMAGE_DIGEST matches", "Pipeline p task preflight: result IMAGE_URL matches", "Pipeline p task preflight: result IMAGE_DIGEST matches"}},
	} {
		t.Run(tc.dir, func(t *testing.T) {
			repo, err := tekton.Load(filepath.Join("testdata", "chains", tc.dir))
			require.NoError(t, err)
			require.NoError(t, repo.Check(context.Background()), "Tekton itself accepts every fixture")
			err = repo.CheckChains()
			if tc.want == nil {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			for _, w := range tc.want {
				assert.Contains(t, err.Error(), w)
			}
			var fe *tekton.FileError
			assert.True(t, errors.As(err, &fe), "the error names the file: %v", err)
		})
	}
}

// realShapes are values the steps really write (pkg/gates/image: the staging repository without tag,
// the digest, the per-platform digests), under today's names and the names they take instead.
var realShapes = map[string]string{
	"IMAGE_URL":        "quay.io/redhat-user-workloads/tenant/app/comp",
	"STAGING_IMAGE":    "quay.io/redhat-user-workloads/tenant/app/comp",
	"IMAGE_DIGEST":     "sha256:" + strings.Repeat("ab", 32),
	"PINNED_DIGEST":    "sha256:" + strings.Repeat("ab", 32),
	"PLATFORM_DIGESTS": "linux/amd64=sha256:" + strings.Repeat("cd", 32) + ",linux/arm64=sha256:" + strings.Repeat("ef", 32),
}

// finding is what chains-subjects prints with -json.
type finding struct {
	File, Object, Result string
	How                  []string
}

// chainsSubjects runs Tekton Chains' own type-hinting code (test/tools/chains, built once from
// the module proxy) over files, or over bare names, and returns what it takes for artifacts.
func chainsSubjects(t *testing.T, names []string, files ...string) []finding {
	t.Helper()
	if testing.Short() {
		t.Skip("builds Tekton Chains from source on its first run; not run with -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	bin, err := tools.Path(ctx, tools.ChainsSubjects, testLog{t})
	require.NoError(t, err, "building Tekton Chains' checker (a failure, not a skip)")
	args := []string{"-json"}
	for _, n := range sortedKeys(realShapes) {
		args = append(args, "-value", n+"="+realShapes[n])
	}
	if len(names) > 0 {
		args = append(args, "-names", strings.Join(names, ","))
	}
	cmd := exec.CommandContext(ctx, bin, append(args, files...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var exit *exec.ExitError
	if err != nil && !(errors.As(err, &exit) && exit.ExitCode() == 1) {
		t.Fatalf("chains-subjects: %v\n%s", err, stderr.String())
	}
	var found []finding
	require.NoError(t, json.Unmarshal(out, &found), "chains-subjects -json: %s", out)
	assert.Equal(t, len(found) > 0, err != nil, "chains-subjects exits 1 exactly when it finds something")
	for _, f := range found {
		t.Logf("Chains takes %s %s result %s for an artifact: %s", f.File, f.Object, f.Result, strings.Join(f.How, "; "))
	}
	return found
}

type testLog struct{ t *testing.T }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// tektonFiles are the repository's Task, StepAction and Pipeline files under root.
func tektonFiles(t *testing.T, root string) []string {
	t.Helper()
	var files []string
	for _, dir := range tekton.Folders {
		if dir == "stepactions" {
			continue // chains-subjects reads Tasks and Pipelines; StepActions are checked by CheckChains
		}
		err := filepath.WalkDir(filepath.Join(root, dir), func(p string, d fs.DirEntry, err error) error {
			if errors.Is(err, fs.ErrNotExist) && p == filepath.Join(root, dir) {
				return fs.SkipDir
			}
			if err != nil {
				return err
			}
			if !d.IsDir() && strings.HasSuffix(p, ".yaml") {
				files = append(files, p)
			}
			return nil
		})
		require.NoError(t, err)
	}
	return files
}

func results(found []finding) []string {
	set := map[string]bool{}
	for _, f := range found {
		set[f.Object+": "+f.Result] = true
	}
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestChainsOwnCode: Tekton Chains' own artifact extraction, run over every generated Task and
// the Pipeline (each embedded task a TaskRun, the Pipeline's results a PipelineRun), takes no
// result for an artifact.
func TestChainsOwnCode(t *testing.T) {
	files := tektonFiles(t, root)
	require.NotEmpty(t, files)
	assert.Empty(t, results(chainsSubjects(t, nil, files...)), "results Tekton Chains takes for built artifacts: rename them")
}

// TestChainsOwnCodeFixtures: Chains' code finds the hints in the fixtures the lint rejects, and
// passes the renamed ones; the repository's own YAML with IMAGE_URL and IMAGE_DIGEST renamed to
// STAGING_IMAGE and PINNED_DIGEST passes too.
func TestChainsOwnCodeFixtures(t *testing.T) {
	renamed := t.TempDir()
	for _, f := range tektonFiles(t, root) {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		b = bytes.ReplaceAll(bytes.ReplaceAll(b, []byte("IMAGE_URL"), []byte("STAGING_IMAGE")), []byte("IMAGE_DIGEST"), []byte("PINNED_DIGEST"))
		rel, err := filepath.Rel(root, f)
		require.NoError(t, err)
		require.NoError(t, os.MkdirAll(filepath.Join(renamed, filepath.Dir(rel)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(renamed, rel), b, 0o644))
	}
	for _, tc := range []struct {
		name string
		dir  string
		want []string
	}{
		{"valid", filepath.Join("testdata", "chains", "valid"), []string{}},
		{"image-url", filepath.Join("testdata", "chains", "image-url"), []string{"Task t: IMAGE_DIGEST", "Task t: IMAGE_URL"}},
		{"images", filepath.Join("testdata", "chains", "images"), []string{"Task t: IMAGES"}},
		{"artifact-outputs", filepath.Join("testdata", "chains", "artifact-outputs"), []string{"Task t: SCANNED_ARTIFACT_OUTPUTS"}},
		// Only the embedded task pairs IMAGE_URL with IMAGE_DIGEST; the Pipeline's lone
		// IMAGE_DIGEST is no artifact to Chains (CheckChains rejects it all the same).
		{"pipeline", filepath.Join("testdata", "chains", "pipeline"), []string{"Pipeline p task preflight: IMAGE_DIGEST", "Pipeline p task preflight: IMAGE_URL"}},
		{"repository renamed", renamed, []string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			files := tektonFiles(t, tc.dir)
			require.NotEmpty(t, files)
			got := results(chainsSubjects(t, nil, files...))
			assert.Equal(t, tc.want, got)
		})
	}
}

// TestChainsRuleAgreesWithChains keeps tekton.ChainsTypeHint honest: over names declared
// together in one Task (as string, array and object results in turn, so each half of a pair
// meets its other half), a name is one Chains takes for an artifact exactly when the rule
// rejects it.
func TestChainsRuleAgreesWithChains(t *testing.T) {
	names := []string{
		"IMAGE_URL", "IMAGE_DIGEST", "FOO_IMAGE_URL", "FOO_IMAGE_DIGEST", "IMAGES",
		"ARTIFACT_OUTPUTS", "X_ARTIFACT_OUTPUTS", "ARTIFACT_URI", "ARTIFACT_DIGEST",
		"SRC_ARTIFACT_INPUTS",
		"STAGING_IMAGE", "PINNED_DIGEST", "PLATFORM_DIGESTS", "IMAGE_URL_OLD", "ALL_IMAGES",
		"image_url", "image_digest", "IMAGE", "DIGEST", "URL", "SNAPSHOT", "RELEASE_NAME",
	}
	byChains := map[string]bool{}
	for _, f := range chainsSubjects(t, names) {
		byChains[f.Result] = true
	}
	for _, n := range names {
		hint := tekton.ChainsTypeHint(n)
		assert.Equal(t, byChains[n], hint != "", "%s: Chains takes it for an artifact: %v; tekton.ChainsTypeHint: %q", n, byChains[n], hint)
	}
}
