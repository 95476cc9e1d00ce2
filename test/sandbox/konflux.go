package sandbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"sync"
	"time"

	yamlv3 "go.yaml.in/yaml/v3"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/yaml"
)

// More GVRs the Konflux fixtures use.
var (
	// Releases is the Konflux Release resource.
	Releases = schema.GroupVersionResource{Group: "appstudio.redhat.com", Version: "v1alpha1", Resource: "releases"}
	// Snapshots is the Konflux Snapshot resource.
	Snapshots = snapshots
	// ReleasePlans is the Konflux ReleasePlan resource.
	ReleasePlans = releasePlans
	// Components is the Konflux Component resource.
	Components = components
	// ConfigMaps is the core ConfigMap resource.
	ConfigMaps = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
)

// manifestKinds maps the kinds ApplyManifests knows to their resources.
var manifestKinds = map[string]schema.GroupVersionResource{
	"ServiceAccount": {Version: "v1", Resource: "serviceaccounts"},
	"ConfigMap":      ConfigMaps,
	"Role":           {Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "roles"},
	"RoleBinding":    {Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "rolebindings"},
	"Release":        Releases,
	"Snapshot":       snapshots,
	"ReleasePlan":    releasePlans,
	"Application":    applications,
	"Component":      components,
}

// ReleaseOptions describe a Release made by someone else (the release service, a person, an
// earlier run).
type ReleaseOptions struct {
	Namespace, Name, Snapshot, ReleasePlan string
	Labels                                 map[string]string
	// Released sets the Released condition: "True" (Succeeded), "False" (Failed), "Progressing",
	// or "" for no status.
	Released string
}

// CreateRelease creates a Release and, when asked, its outcome.
func (s *Sandbox) CreateRelease(ctx context.Context, o ReleaseOptions) error {
	labels := map[string]any{}
	for k, v := range o.Labels {
		labels[k] = v
	}
	if err := s.Create(ctx, Releases, o.Namespace, map[string]any{
		"metadata": map[string]any{"name": o.Name, "labels": labels},
		"spec":     map[string]any{"snapshot": o.Snapshot, "releasePlan": o.ReleasePlan},
	}); err != nil {
		return err
	}
	if o.Released == "" {
		return nil
	}
	return s.SetStatus(ctx, Releases, o.Namespace, o.Name, ReleaseStatus(o.Released, ""))
}

// ReleaseStatus is a Release status with the Released condition: "True" (Succeeded), "False"
// (Failed, with message), or "Progressing".
func ReleaseStatus(released, message string) map[string]any {
	status, reason := "False", "Progressing"
	switch released {
	case "True":
		status, reason = "True", "Succeeded"
	case "False":
		reason = "Failed"
	}
	st := map[string]any{
		"startTime":  time.Now().UTC().Format(time.RFC3339),
		"conditions": []any{Condition("Released", status, reason, message)},
	}
	if reason != "Progressing" {
		st["completionTime"] = time.Now().UTC().Format(time.RFC3339)
	}
	return st
}

// Condition is a status condition as the Konflux controllers write it (every field the
// upstream CRDs require).
func Condition(typ, status, reason, message string) map[string]any {
	return condition(typ, status, reason, message)
}

// SetSnapshotConditions replaces the status conditions of a Snapshot.
func (s *Sandbox) SetSnapshotConditions(ctx context.Context, ns, name string, conds ...map[string]any) error {
	list := make([]any, len(conds))
	for i, c := range conds {
		list[i] = c
	}
	return s.SetStatus(ctx, snapshots, ns, name, map[string]any{"conditions": list})
}

// CreateMany creates n objects of gvr in ns with workers concurrent clients; object(i) returns
// the metadata and spec of the i-th. It is for scale tests (10,000 Snapshots), so it reports
// only the first error.
func (s *Sandbox) CreateMany(ctx context.Context, gvr schema.GroupVersionResource, ns string, n, workers int, object func(i int) map[string]any) error {
	cfg := rest.CopyConfig(s.Config)
	cfg.QPS, cfg.Burst = -1, 0 // no client-side throttling: the API server is the limit
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return err
	}
	res := dyn.Resource(gvr).Namespace(ns)
	next := make(chan int)
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	for range max(1, workers) {
		wg.Go(func() {
			for i := range next {
				obj := object(i)
				obj["apiVersion"] = gvr.GroupVersion().String()
				obj["kind"] = kinds[gvr.Resource]
				if _, err := res.Create(ctx, &unstructured.Unstructured{Object: obj}, metav1.CreateOptions{}); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = fmt.Errorf("creating %s %d: %w", gvr.Resource, i, err)
					}
					mu.Unlock()
				}
			}
		})
	}
	for i := range n {
		mu.Lock()
		failed := firstErr != nil
		mu.Unlock()
		if failed || ctx.Err() != nil {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
	if firstErr == nil {
		firstErr = ctx.Err()
	}
	return firstErr
}

// ApplyManifests creates every object of a multi-document YAML file in namespace ns (its
// metadata.namespace and the namespace of ServiceAccount subjects are set to ns), as
// kubectl apply -n ns would for new objects.
func (s *Sandbox) ApplyManifests(ctx context.Context, ns string, data []byte) error {
	dec := yamlv3.NewDecoder(bytes.NewReader(data))
	for {
		var doc map[string]any
		if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
			return nil
		} else if err != nil {
			return fmt.Errorf("decoding manifests: %w", err)
		}
		if doc == nil {
			continue
		}
		// Round-trip through JSON so that the object holds JSON types only.
		b, err := yaml.Marshal(doc)
		if err != nil {
			return err
		}
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal(b, &u.Object); err != nil {
			return err
		}
		gvr, ok := manifestKinds[u.GetKind()]
		if !ok {
			return fmt.Errorf("manifest kind %s: not known to the sandbox", u.GetKind())
		}
		// As kubectl apply -n does: the manifests name no namespace (a ServiceAccount subject
		// without one is the RoleBinding's own), and one that names another is refused.
		if got := u.GetNamespace(); got != "" && got != ns {
			return fmt.Errorf("manifest %s %s names namespace %s, not %s: manifests a tenant applies name none", u.GetKind(), u.GetName(), got, ns)
		}
		u.SetNamespace(ns)
		if _, err := s.Dynamic.Resource(gvr).Namespace(ns).Create(ctx, u, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("creating %s %s/%s: %w", u.GetKind(), ns, u.GetName(), err)
		}
	}
}

// ImpersonatingKubeconfig writes a kubeconfig for the sandbox's API server that acts as user
// (e.g. system:serviceaccount:ns:release-to-prod) through impersonation, and returns its path
// and the matching rest.Config.
func (s *Sandbox) ImpersonatingKubeconfig(user string) (string, *rest.Config, error) {
	cfg, err := clientcmd.LoadFromFile(s.Kubeconfig)
	if err != nil {
		return "", nil, err
	}
	for _, a := range cfg.AuthInfos {
		a.Impersonate = user
	}
	path := filepath.Join(s.Dir, fmt.Sprintf("kubeconfig-as-%d", time.Now().UnixNano()))
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		return "", nil, err
	}
	rc := rest.CopyConfig(s.Config)
	rc.Impersonate = rest.ImpersonationConfig{UserName: user}
	return path, rc, nil
}

// WaitNextSecond returns once the clock has passed into the next whole second, so that objects
// created before and after get different creationTimestamps (which have one-second
// resolution). It polls the clock; it does not sleep for a fixed time.
func WaitNextSecond() {
	start := time.Now().Truncate(time.Second)
	for time.Now().Truncate(time.Second).Equal(start) {
		time.Sleep(10 * time.Millisecond)
	}
}
