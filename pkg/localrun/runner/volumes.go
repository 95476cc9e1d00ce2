package runner

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/release-to-prod/release-to-prod/pkg/clients/konflux"
)

// ObjectReader reads the Secrets and ConfigMaps a TaskRun's volumes name, from the API server
// the run works against (Options.Objects; by default the API server of Options.MountKubeconfig).
type ObjectReader interface {
	// Data returns the object's keys and values; found is false when it does not exist.
	Data(ctx context.Context, kind, namespace, name string) (data map[string][]byte, found bool, err error)
}

// apiObjects is the ObjectReader of a Kubernetes API server, through the project's dynamic
// client (pkg/clients/konflux).
type apiObjects struct{ client dynamic.Interface }

func (a apiObjects) Data(ctx context.Context, kind, namespace, name string) (map[string][]byte, bool, error) {
	var resource string
	switch kind {
	case "Secret":
		resource = "secrets"
	case "ConfigMap":
		resource = "configmaps"
	default:
		return nil, false, fmt.Errorf("kind %s is not Secret or ConfigMap", kind)
	}
	u, err := a.client.Resource(schema.GroupVersionResource{Version: "v1", Resource: resource}).Namespace(namespace).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("reading %s %s/%s (as the kubelet would, to mount it): %w", kind, namespace, name, err)
	}
	if kind == "Secret" {
		var sec corev1.Secret
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &sec); err != nil {
			return nil, false, fmt.Errorf("decoding Secret %s/%s: %w", namespace, name, err)
		}
		return sec.Data, true, nil
	}
	var cm corev1.ConfigMap
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &cm); err != nil {
		return nil, false, fmt.Errorf("decoding ConfigMap %s/%s: %w", namespace, name, err)
	}
	data := make(map[string][]byte, len(cm.Data)+len(cm.BinaryData))
	for k, v := range cm.Data {
		data[k] = []byte(v)
	}
	for k, v := range cm.BinaryData {
		data[k] = v
	}
	return data, true, nil
}

// objects returns the reader of the run's Secrets and ConfigMaps, made on first use: a run
// whose Tasks mount none needs no API server for it.
func (o *Options) objects() (ObjectReader, error) {
	if o.Objects != nil {
		return o.Objects, nil
	}
	kc := o.MountKubeconfig
	if kc == "" {
		kc = o.Kubeconfig
	}
	c, err := konflux.NewClient(kc, "")
	if err != nil {
		return nil, err
	}
	o.Objects = apiObjects{client: c.Dynamic}
	return o.Objects, nil
}

// namespace is where the TaskRuns' pods would run: Options.Namespace, else the run's
// "namespace" param as given or defaulted (the tenant namespace every step works in).
func (o *Options) namespace() string {
	if o.Namespace != "" {
		return o.Namespace
	}
	for _, p := range o.Params {
		if p.Name == "namespace" && p.Value.StringVal != "" {
			return p.Value.StringVal
		}
	}
	if o.Pipeline != nil {
		for _, ps := range o.Pipeline.Spec.Params {
			if ps.Name == "namespace" && ps.Default != nil && ps.Default.StringVal != "" {
				return ps.Default.StringVal
			}
		}
	}
	return "default"
}

// mountVolumes models a TaskRun's Secret and ConfigMap volumes as the kubelet mounts them: a
// folder per volume (under the TaskRun's folder) holding each key as a file, or only the items
// named, at their paths. An optional object that does not exist, or an optional item's key
// that is missing, leaves the folder empty of it; a required one is an error, where the
// kubelet would keep the pod in ContainerCreating until the run's timeout. Each step's
// mountPath is then rewritten, in its env and args, to that folder. Other volume kinds are left
// alone (emptyDir-like folders are the workspaces' business).
func (o *Options) mountVolumes(ctx context.Context, taskRun string, spec *v1.TaskSpec) (*v1.TaskSpec, error) {
	dirs := map[string]string{} // volume name → local folder
	for _, v := range spec.Volumes {
		kind, name, optional, items := volumeObject(v)
		if kind == "" {
			continue
		}
		objs, err := o.objects()
		if err != nil {
			return nil, fmt.Errorf("volume %s: %w", v.Name, err)
		}
		data, found, err := objs.Data(ctx, kind, o.namespace(), name)
		if err != nil {
			return nil, fmt.Errorf("volume %s: %w", v.Name, err)
		}
		if !found && !optional {
			return nil, fmt.Errorf("volume %s: %s %s does not exist in namespace %s: a pod would wait in ContainerCreating (FailedMount) until the run's timeout", v.Name, kind, name, o.namespace())
		}
		dir := filepath.Join(o.WorkDir, taskRun, "volumes", v.Name)
		if err := writeVolume(dir, data, items, optional); err != nil {
			return nil, fmt.Errorf("volume %s (%s %s): %w", v.Name, kind, name, err)
		}
		dirs[v.Name] = dir
	}
	if len(dirs) == 0 {
		return spec, nil
	}
	out := spec.DeepCopy()
	for i := range out.Steps {
		st := &out.Steps[i]
		for _, m := range st.VolumeMounts {
			dir, ok := dirs[m.Name]
			if !ok {
				continue
			}
			for j := range st.Env {
				st.Env[j].Value = underMount(st.Env[j].Value, m.MountPath, dir)
			}
			for j := range st.Args {
				st.Args[j] = underMount(st.Args[j], m.MountPath, dir)
			}
		}
	}
	return out, nil
}

// unmountVolumes removes the TaskRun's volume folders once it ended, as a pod's go with it: the
// Secrets' values do not stay in the run's files.
func (o *Options) unmountVolumes(taskRun string) error {
	if err := os.RemoveAll(filepath.Join(o.WorkDir, taskRun, "volumes")); err != nil {
		return fmt.Errorf("TaskRun %s: removing its volumes: %w", taskRun, err)
	}
	return nil
}

// volumeObject is the Secret or ConfigMap a volume mounts; kind is "" for another volume.
func volumeObject(v corev1.Volume) (kind, name string, optional bool, items []corev1.KeyToPath) {
	switch {
	case v.Secret != nil:
		return "Secret", v.Secret.SecretName, v.Secret.Optional != nil && *v.Secret.Optional, v.Secret.Items
	case v.ConfigMap != nil:
		return "ConfigMap", v.ConfigMap.Name, v.ConfigMap.Optional != nil && *v.ConfigMap.Optional, v.ConfigMap.Items
	}
	return "", "", false, nil
}

// writeVolume fills dir as the kubelet's atomic writer would (without its ..data links).
func writeVolume(dir string, data map[string][]byte, items []corev1.KeyToPath, optional bool) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	files := map[string][]byte{}
	if len(items) == 0 {
		for k, v := range data {
			files[k] = v
		}
	}
	for _, it := range items {
		v, ok := data[it.Key]
		if !ok {
			if optional {
				continue
			}
			return fmt.Errorf("has no key %s: a pod would wait in ContainerCreating (FailedMount) until the run's timeout", it.Key)
		}
		files[it.Path] = v
	}
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		clean := filepath.Clean(p)
		if filepath.IsAbs(clean) || clean == ".." || strings.HasPrefix(clean, "../") {
			return fmt.Errorf("item path %q leaves the volume", p)
		}
		f := filepath.Join(dir, clean)
		if err := os.MkdirAll(filepath.Dir(f), 0o700); err != nil {
			return err
		}
		if err := os.WriteFile(f, files[p], 0o600); err != nil {
			return err
		}
	}
	return nil
}

// underMount rewrites s when it is mountPath or a path under it.
func underMount(s, mountPath, dir string) string {
	mountPath = strings.TrimSuffix(mountPath, "/")
	if s == mountPath {
		return dir
	}
	if rest, ok := strings.CutPrefix(s, mountPath+"/"); ok {
		return dir + "/" + rest // as given: the step judges the path, as in a container
	}
	return s
}
