package bundle

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/release-to-prod/release-to-prod/pkg/build/imagebuild"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const stepActionYAML = `apiVersion: tekton.dev/v1beta1
kind: StepAction
metadata:
  name: check-image
spec:
  # the image below is pinned by build-bundles --pin-images
  image: quay.io/release-to-prod/check-image:0.1.0
  env:
    - name: NOTE
      value: "see quay.io/release-to-prod/check-image:0.1.0 docs"
`

const taskYAML = `apiVersion: tekton.dev/v1
kind: Task
metadata:
  name: check-image
spec:
  steps:
    - name: check-image
      ref:
        name: check-image
    - name: again
      ref:
        name: check-image
    - name: remote
      ref:
        resolver: bundles
        params:
          - name: bundle
            value: quay.io/x/y:1
    - name: inline
      image: "quay.io/release-to-prod/notify:0.1.0" # trailing comment
`

const pipelineYAML = `apiVersion: tekton.dev/v1
kind: Pipeline
metadata:
  name: release-to-prod
spec:
  tasks:
    - name: image
      taskRef:
        name: check-image
    - name: preflight
      taskSpec:
        steps:
          - name: verdict
            ref:
              name: gate-verdict
          - name: image
            ref:
              name: check-image
  finally:
    - name: notify
      taskRef:
        resolver: bundles
        params:
          - name: bundle
            value: quay.io/x/task-notify:0.1
`

func decode(t *testing.T, path, data, versionDir string) *Resource {
	t.Helper()
	r, err := Decode(path, []byte(data))
	require.NoError(t, err)
	r.VersionDir = versionDir
	return r
}

func TestDecode(t *testing.T) {
	tests := []struct {
		name, data           string
		wantKind, wantVer    string
		wantStepRefs, wantPT []string
		wantErr              string
	}{
		{name: "stepaction", data: stepActionYAML, wantKind: "StepAction", wantVer: "v1beta1"},
		{name: "task", data: taskYAML, wantKind: "Task", wantVer: "v1", wantStepRefs: []string{"check-image"}},
		{name: "pipeline", data: pipelineYAML, wantKind: "Pipeline", wantVer: "v1", wantPT: []string{"check-image"}, wantStepRefs: []string{"gate-verdict", "check-image"}},
		{name: "not tekton", data: "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n", wantErr: "not a Tekton"},
		{name: "no name", data: "apiVersion: tekton.dev/v1\nkind: Task\nspec: {}\n", wantErr: "no metadata.name"},
		{name: "garbage", data: "{{{", wantErr: "not a Tekton resource"},
		{name: "empty", data: "", wantErr: "not a Tekton resource"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Decode("x.yaml", []byte(tt.data))
			if tt.wantErr != "" {
				assert.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.wantKind, r.Kind)
			assert.Equal(t, tt.wantVer, r.Version)
			assert.Equal(t, tt.wantStepRefs, r.StepRefs)
			assert.Equal(t, tt.wantPT, r.PipeTasks)
		})
	}
}

type fakeDigests map[string]v1.Hash

func (f fakeDigests) Digest(_ context.Context, step, tag string) (v1.Hash, error) {
	d, ok := f[step+":"+tag]
	if !ok {
		return v1.Hash{}, errors.New("no such image")
	}
	return d, nil
}

func hash(c byte) v1.Hash { return v1.Hash{Algorithm: "sha256", Hex: strings.Repeat(string(c), 64)} }

func TestPinImages(t *testing.T) {
	digests := fakeDigests{"check-image:0.1.0": hash('a'), "notify:0.1.0": hash('b')}
	tests := []struct {
		name, in, want string
		wantPinned     int
		wantErr        string
	}{
		{
			name:       "plain field, prose untouched",
			in:         stepActionYAML,
			want:       strings.Replace(stepActionYAML, "  image: quay.io/release-to-prod/check-image:0.1.0", "  image: r.example/ns/check-image:0.1.0@sha256:"+strings.Repeat("a", 64), 1),
			wantPinned: 1,
		},
		{
			name:       "quoted, in a list, with a comment",
			in:         "steps:\n  - image: \"quay.io/release-to-prod/notify:0.1.0\" # n\n",
			want:       "steps:\n  - image: \"r.example/ns/notify:0.1.0@sha256:" + strings.Repeat("b", 64) + "\" # n\n",
			wantPinned: 1,
		},
		{name: "other registry untouched", in: "image: quay.io/other/notify:0.1.0\n", want: "image: quay.io/other/notify:0.1.0\n"},
		{name: "already pinned untouched", in: "image: quay.io/release-to-prod/notify:0.1.0@sha256:" + strings.Repeat("c", 64) + "\n",
			want: "image: quay.io/release-to-prod/notify:0.1.0@sha256:" + strings.Repeat("c", 64) + "\n"},
		{name: "unknown image fails", in: "image: quay.io/release-to-prod/missing:0.1.0\n", wantErr: "pin image quay.io/release-to-prod/missing:0.1.0: no such image"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, pinned, err := PinImages(context.Background(), []byte(tt.in), "r.example/ns/", digests)
			if tt.wantErr != "" {
				assert.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, string(out))
			assert.Len(t, pinned, tt.wantPinned)
		})
	}
	assert.Equal(t, []ImageRef{{"check-image", "0.1.0"}}, StepImages([]byte(stepActionYAML)))
}

func TestResourcePinKeepsItValid(t *testing.T) {
	r := decode(t, "t.yaml", taskYAML, "0.1")
	pinned, err := r.Pin(context.Background(), "r.example/ns", fakeDigests{"notify:0.1.0": hash('b')})
	require.NoError(t, err)
	assert.Equal(t, []string{"r.example/ns/notify:0.1.0@sha256:" + strings.Repeat("b", 64)}, pinned)
	assert.Contains(t, string(r.Data), "# trailing comment")
}

func TestPlan(t *testing.T) {
	sa := func(name, ver string) *Resource {
		return decode(t, "stepactions/"+name, strings.Replace(stepActionYAML, "name: check-image", "name: "+name, 1), ver)
	}
	task := decode(t, "tasks/check-image", taskYAML, "0.1")
	pipe := decode(t, "pipelines/release-to-prod", pipelineYAML, "0.1")

	t.Run("task with its step action, pipeline with all it names, lone step action alone", func(t *testing.T) {
		bundles, err := Plan([]*Resource{sa("check-image", "0.1"), sa("gate-verdict", "0.1"), sa("lonely", "0.1"), pipe, task})
		require.NoError(t, err)
		var got []string
		for _, b := range bundles {
			got = append(got, fmt.Sprintf("%s:%s %v", b.Repository, b.Tag, b.IDs()))
		}
		assert.Equal(t, []string{
			"task-check-image:0.1 [task/check-image stepaction/check-image]",
			"pipeline-release-to-prod:0.1 [pipeline/release-to-prod task/check-image stepaction/check-image stepaction/gate-verdict]",
			"stepaction-lonely:0.1 [stepaction/lonely]",
		}, got)
	})
	t.Run("pipeline naming a missing task", func(t *testing.T) {
		_, err := Plan([]*Resource{sa("check-image", "0.1"), sa("gate-verdict", "0.1"), pipe})
		assert.ErrorContains(t, err, `taskRef "check-image": no Task check-image in tasks/*/0.1/`)
	})
	t.Run("pipeline naming a missing step action", func(t *testing.T) {
		_, err := Plan([]*Resource{sa("check-image", "0.1"), pipe, task})
		assert.ErrorContains(t, err, `step ref "gate-verdict": no StepAction gate-verdict`)
	})
	t.Run("step action of another version is not picked", func(t *testing.T) {
		_, err := Plan([]*Resource{sa("check-image", "0.2"), task})
		assert.ErrorContains(t, err, `step ref "check-image": no StepAction check-image in stepactions/*/0.1/`)
	})
	t.Run("step action defined twice", func(t *testing.T) {
		_, err := Plan([]*Resource{sa("check-image", "0.1"), sa("check-image", "0.1"), task})
		assert.ErrorContains(t, err, "StepAction check-image 0.1 defined twice")
	})
	t.Run("two tasks of one name and version", func(t *testing.T) {
		_, err := Plan([]*Resource{sa("check-image", "0.1"), task, task})
		assert.ErrorContains(t, err, "Task check-image 0.1 defined twice")
	})
}

func TestImageLayers(t *testing.T) {
	res := []*Resource{decode(t, "t", taskYAML, "0.1"), decode(t, "s", stepActionYAML, "0.1")}
	created := time.Unix(1767225600, 0)
	img, err := Image(res, created, map[string]string{"org.opencontainers.image.revision": "abc"})
	require.NoError(t, err)
	m, err := img.Manifest()
	require.NoError(t, err)
	require.Len(t, m.Layers, 2)
	assert.Equal(t, map[string]string{AnnotationName: "check-image", AnnotationKind: "task", AnnotationAPIVersion: "v1"}, m.Layers[0].Annotations)
	assert.Equal(t, map[string]string{AnnotationName: "check-image", AnnotationKind: "stepaction", AnnotationAPIVersion: "v1beta1"}, m.Layers[1].Annotations)

	again, err := Image(res, created, map[string]string{"org.opencontainers.image.revision": "abc"})
	require.NoError(t, err)
	d1, err := img.Digest()
	require.NoError(t, err)
	d2, err := again.Digest()
	require.NoError(t, err)
	assert.Equal(t, d1, d2, "same resources, same time: same bundle digest")

	_, err = Image(nil, created, nil)
	assert.ErrorContains(t, err, "empty bundle")
	_, err = Image([]*Resource{res[0], res[0]}, created, nil)
	assert.ErrorContains(t, err, "task/check-image twice")
	many := make([]*Resource, MaxObjects+1)
	for i := range many {
		many[i] = decode(t, "s", strings.Replace(stepActionYAML, "name: check-image", fmt.Sprintf("name: s%d", i), 1), "0.1")
	}
	_, err = Image(many, created, nil)
	assert.ErrorContains(t, err, "at most 20")
}

// The repository's own YAML loads and every Task finds its StepActions.
func TestRepositoryPlans(t *testing.T) {
	root, err := imagebuild.ModuleRoot(".")
	require.NoError(t, err)
	resources, err := Load(root)
	require.NoError(t, err)
	bundles, err := Plan(resources)
	require.NoError(t, err)
	var repos []string
	for _, b := range bundles {
		repos = append(repos, b.Repository)
	}
	assert.Contains(t, repos, "task-check-image")
}

func TestLayoutDigests(t *testing.T) {
	dir := t.TempDir()
	idx, err := random.Index(16, 1, 2)
	require.NoError(t, err)
	require.NoError(t, imagebuild.WriteLayout(filepath.Join(dir, "check-image"), idx, ""))
	want, err := idx.Digest()
	require.NoError(t, err)

	got, err := LayoutDigests{Dir: dir}.Digest(context.Background(), "check-image", "0.1.0")
	require.NoError(t, err)
	assert.Equal(t, want, got)
	_, err = LayoutDigests{Dir: dir}.Digest(context.Background(), "notify", "0.1.0")
	assert.ErrorContains(t, err, "build it first: make images")
}
