package runner

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
)

type fakeObjects map[string]map[string][]byte // "Kind/namespace/name" → data

func (f fakeObjects) Data(_ context.Context, kind, ns, name string) (map[string][]byte, bool, error) {
	d, ok := f[kind+"/"+ns+"/"+name]
	return d, ok, nil
}

// TestMountVolumes: a TaskRun's Secret and ConfigMap volumes are filled as the kubelet fills
// them (optional honoured, items honoured) and the steps' paths under their mountPaths point
// at the folders.
func TestMountVolumes(t *testing.T) {
	objs := fakeObjects{
		"Secret/tenant/hook":     {"url": []byte("https://hooks.example/x"), "other": []byte("o")},
		"ConfigMap/tenant/ca":    {"ca-bundle.crt": []byte("PEM")},
		"Secret/tenant/no-other": {"url": []byte("u")},
	}
	secret := func(name string, optional bool, items ...corev1.KeyToPath) corev1.Volume {
		return corev1.Volume{Name: "v", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: name, Optional: ptr.To(optional), Items: items}}}
	}
	tests := []struct {
		name      string
		volume    corev1.Volume
		wantFiles map[string]string // nil: no folder expected to be checked
		wantErr   string
	}{
		{name: "every key of a Secret", volume: secret("hook", true), wantFiles: map[string]string{"url": "https://hooks.example/x", "other": "o"}},
		{name: "optional and absent: an empty folder", volume: secret("nope", true), wantFiles: map[string]string{}},
		{name: "required and absent: what would hang is an error", volume: secret("nope", false), wantErr: "Secret nope does not exist in namespace tenant: a pod would wait in ContainerCreating"},
		{name: "items: only those, at their paths", volume: secret("hook", true, corev1.KeyToPath{Key: "url", Path: "sub/u"}), wantFiles: map[string]string{"sub/u": "https://hooks.example/x"}},
		{name: "optional item missing: left out", volume: secret("no-other", true, corev1.KeyToPath{Key: "other", Path: "o"}), wantFiles: map[string]string{}},
		{name: "required item missing: error", volume: secret("no-other", false, corev1.KeyToPath{Key: "other", Path: "o"}), wantErr: "has no key other"},
		{name: "item path leaving the volume", volume: secret("hook", true, corev1.KeyToPath{Key: "url", Path: "../x"}), wantErr: "leaves the volume"},
		{name: "a ConfigMap", volume: corev1.Volume{Name: "v", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: "ca"}, Optional: ptr.To(true)}}}, wantFiles: map[string]string{"ca-bundle.crt": "PEM"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := &Options{WorkDir: t.TempDir(), Objects: objs, Params: v1.Params{{Name: "namespace", Value: *v1.NewStructuredValues("tenant")}}}
			spec := &v1.TaskSpec{Volumes: []corev1.Volume{tt.volume}, Steps: []v1.Step{{Name: "s",
				Env:          []corev1.EnvVar{{Name: "F", Value: "/mnt/v/url"}, {Name: "D", Value: "/mnt/v"}, {Name: "X", Value: "/mnt/vv/url"}},
				Args:         []string{"--file=/mnt/v/url", "/mnt/v/url"},
				VolumeMounts: []corev1.VolumeMount{{Name: "v", MountPath: "/mnt/v"}}}}}
			got, err := o.mountVolumes(context.Background(), "tr", spec)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			dir := filepath.Join(o.WorkDir, "tr", "volumes", "v")
			files := map[string]string{}
			require.NoError(t, filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
				if err != nil || d.IsDir() {
					return err
				}
				b, err := os.ReadFile(p)
				rel, _ := filepath.Rel(dir, p)
				files[rel] = string(b)
				return err
			}))
			assert.Equal(t, tt.wantFiles, files)
			env := got.Steps[0].Env
			assert.Equal(t, dir+"/url", env[0].Value)
			assert.Equal(t, dir, env[1].Value)
			assert.Equal(t, "/mnt/vv/url", env[2].Value, "another mount's path is not this one's")
			assert.Equal(t, []string{"--file=/mnt/v/url", dir + "/url"}, got.Steps[0].Args, "only whole paths are rewritten")
			assert.Equal(t, "/mnt/v/url", spec.Steps[0].Env[0].Value, "the spec given is not changed")
		})
	}
}

// TestVolumesNamespace: the objects are read in the run's namespace param, as given or as the
// Pipeline defaults it; Options.Namespace wins.
func TestVolumesNamespace(t *testing.T) {
	p := &v1.Pipeline{Spec: v1.PipelineSpec{Params: v1.ParamSpecs{{Name: "namespace", Default: v1.NewStructuredValues("tenant-default")}}}}
	given := v1.Params{{Name: "namespace", Value: *v1.NewStructuredValues("tenant-given")}}
	assert.Equal(t, "tenant-given", (&Options{Pipeline: p, Params: given}).namespace())
	assert.Equal(t, "tenant-default", (&Options{Pipeline: p}).namespace())
	assert.Equal(t, "explicit", (&Options{Pipeline: p, Params: given, Namespace: "explicit"}).namespace())
	assert.Equal(t, "default", (&Options{Pipeline: &v1.Pipeline{}}).namespace())
}
