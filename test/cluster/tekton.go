package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/release-to-prod/release-to-prod/test/tools"
)

const (
	// TektonNamespace is where Tekton's controller and its ConfigMaps live.
	TektonNamespace  = "tekton-pipelines"
	tektonProbesPort = "8080"
)

// TenantFeatureFlags are the entries of Tekton's feature-flags ConfigMap the project needs from
// a tenant's Tekton, over Tekton v1.15.0's defaults:
//
//   - set-security-context "true": under pod-security.kubernetes.io/enforce: restricted (which
//     Konflux tenant namespaces and OpenShift's restricted-v2 SCC impose), Tekton's own init
//     containers are refused (PodAdmissionFailed) unless Tekton gives them a restricted
//     securityContext.
//
// Everything else stays at the default the release ships: results-from "termination-message"
// (results travel in the termination message, capped per container by the kubelet),
// enable-step-actions "true", enable-api-fields "beta", coschedule "workspaces".
var TenantFeatureFlags = map[string]string{
	"set-security-context": "true",
}

// gvrs maps the kinds the cluster installs from files: Tekton's config/ and the project's
// config/rbac.
var gvrs = map[string]schema.GroupVersionResource{
	"Namespace":                {Version: "v1", Resource: "namespaces"},
	"ConfigMap":                {Version: "v1", Resource: "configmaps"},
	"CustomResourceDefinition": {Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"},
	"ServiceAccount":           {Version: "v1", Resource: "serviceaccounts"},
	"Role":                     {Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "roles"},
	"RoleBinding":              {Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "rolebindings"},
}

// ApplyFile creates the objects of a YAML file (ServiceAccounts, Roles, RoleBindings,
// ConfigMaps) in namespace, as `kubectl create -n namespace -f path` does.
func (c *Cluster) ApplyFile(ctx context.Context, namespace, path string) error {
	objs, err := readObjects(path)
	if err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	for _, o := range objs {
		if o.GetKind() != "Namespace" && o.GetKind() != "CustomResourceDefinition" {
			o.SetNamespace(namespace)
		}
		if err := c.create(ctx, o); err != nil {
			return fmt.Errorf("cluster: %s: %w", path, err)
		}
	}
	return nil
}

// installTekton installs Tekton's namespace, CRDs and ConfigMaps from the module source the
// controller is built from. The webhook is not run: the CRDs are installed without their
// conversion webhook (only v1 objects are written here), and the controller's reconcilers
// default and validate every run themselves. One difference with a tenant's cluster follows: an
// invalid run is refused when it is reconciled, not when it is created.
func (c *Cluster) installTekton(ctx context.Context, overrides map[string]string) error {
	files, err := tektonFiles(ctx)
	if err != nil {
		return err
	}
	flags := map[string]string{}
	for k, v := range TenantFeatureFlags {
		flags[k] = v
	}
	for k, v := range overrides {
		flags[k] = v
	}
	var crdNames []string
	for _, f := range files {
		objs, err := readObjects(f)
		if err != nil {
			return fmt.Errorf("cluster: tekton: %w", err)
		}
		for _, o := range objs {
			switch o.GetKind() {
			case "CustomResourceDefinition":
				// No webhook serves conversions here.
				if err := unstructured.SetNestedMap(o.Object, map[string]any{"strategy": "None"}, "spec", "conversion"); err != nil {
					return fmt.Errorf("cluster: tekton: %s: %w", o.GetName(), err)
				}
				crdNames = append(crdNames, o.GetName())
			case "ConfigMap":
				if o.GetName() == "feature-flags" {
					for _, k := range slices.Sorted(maps.Keys(flags)) {
						if err := unstructured.SetNestedField(o.Object, flags[k], "data", k); err != nil {
							return fmt.Errorf("cluster: tekton: feature-flags: %w", err)
						}
					}
				}
			}
			if err := c.create(ctx, o); err != nil {
				return fmt.Errorf("cluster: tekton: %s: %w", f, err)
			}
		}
	}
	sort.Strings(crdNames)
	return c.waitEstablished(ctx, crdNames)
}

// tektonFiles lists Tekton's namespace, CRDs and ConfigMaps in the module source, in the order
// they are created.
func tektonFiles(ctx context.Context) ([]string, error) {
	dir, err := tools.ModuleDir(ctx, "tekton", "github.com/tektoncd/pipeline")
	if err != nil {
		return nil, fmt.Errorf("cluster: tekton: %w", err)
	}
	files := []string{filepath.Join(dir, "config", "100-namespace", "100-namespace.yaml")}
	crds, err := filepath.Glob(filepath.Join(dir, "config", "300-crds", "*.yaml"))
	if err != nil || len(crds) == 0 {
		return nil, fmt.Errorf("cluster: tekton: no CRDs under %s/config/300-crds", dir)
	}
	configs, err := filepath.Glob(filepath.Join(dir, "config", "config-*.yaml"))
	if err != nil || len(configs) == 0 {
		return nil, fmt.Errorf("cluster: tekton: no ConfigMaps under %s/config", dir)
	}
	return append(append(files, crds...), configs...), nil
}

// waitEstablished waits until the API server serves every CRD named.
func (c *Cluster) waitEstablished(ctx context.Context, crdNames []string) error {
	crdGVR := gvrs["CustomResourceDefinition"]
	return c.WaitFor(ctx, "Tekton CRDs established", time.Minute, func(ctx context.Context) (bool, error) {
		for _, n := range crdNames {
			o, err := c.Dynamic.Resource(crdGVR).Get(ctx, n, metav1.GetOptions{})
			if err != nil {
				return false, nil
			}
			conds, _, _ := unstructured.NestedSlice(o.Object, "status", "conditions")
			established := false
			for _, cnd := range conds {
				m, _ := cnd.(map[string]any)
				if m["type"] == "Established" && m["status"] == "True" {
					established = true
				}
			}
			if !established {
				return false, nil
			}
		}
		return true, nil
	})
}

func readObjects(path string) ([]*unstructured.Unstructured, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(b), 4096)
	var out []*unstructured.Unstructured
	for {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return nil, fmt.Errorf("decoding %s: %w", path, err)
		}
		if len(m) == 0 {
			continue
		}
		out = append(out, &unstructured.Unstructured{Object: m})
	}
}

func (c *Cluster) create(ctx context.Context, o *unstructured.Unstructured) error {
	gvr, ok := gvrs[o.GetKind()]
	if !ok {
		return fmt.Errorf("%s %s: kind not installed by the test cluster", o.GetKind(), o.GetName())
	}
	var err error
	if ns := o.GetNamespace(); ns != "" {
		_, err = c.Dynamic.Resource(gvr).Namespace(ns).Create(ctx, o, metav1.CreateOptions{})
	} else {
		_, err = c.Dynamic.Resource(gvr).Create(ctx, o, metav1.CreateOptions{})
	}
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating %s %s: %w", o.GetKind(), o.GetName(), err)
	}
	return nil
}

// startTektonController runs the controller as a process in the namespace, with the
// environment its Deployment sets (config/controller.yaml) and every image flag (it refuses to
// start without them, -shell-image-win included; no script step runs here, so the shell
// images are the nop image).
func (c *Cluster) startTektonController(bins binaries, kubeconfig string) error {
	env := []string{
		"SYSTEM_NAMESPACE=" + TektonNamespace,
		"KUBERNETES_MIN_VERSION=v1.28.0",
		"CONFIG_DEFAULTS_NAME=config-defaults",
		"CONFIG_LOGGING_NAME=config-logging",
		"CONFIG_OBSERVABILITY_NAME=config-observability",
		"CONFIG_FEATURE_FLAGS_NAME=feature-flags",
		"CONFIG_LEADERELECTION_NAME=config-leader-election-controller",
		"CONFIG_SPIRE=config-spire",
		"METRICS_DOMAIN=tekton.dev/pipeline",
		"PROBES_PORT=" + tektonProbesPort,
	}
	ref := c.TektonRef
	for _, n := range []string{tektonEntrypoint, tektonNop, tektonWorkingDirInit, tektonSidecarLogResults} {
		if ref[n] == "" {
			return fmt.Errorf("cluster: tekton: no %s image", n)
		}
	}
	if _, err := c.startDaemon("tekton-controller", env, bins["tekton-controller"],
		"-kubeconfig="+kubeconfig,
		"-disable-ha",
		"-entrypoint-image="+ref[tektonEntrypoint],
		"-nop-image="+ref[tektonNop],
		"-sidecarlogresults-image="+ref[tektonSidecarLogResults],
		"-workingdirinit-image="+ref[tektonWorkingDirInit],
		"-shell-image="+ref[tektonNop],
		"-shell-image-win="+ref[tektonNop]); err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	return nil
}
