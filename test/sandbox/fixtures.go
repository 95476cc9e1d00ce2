package sandbox

import (
	"context"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// GVRs of what the fixtures create.
var (
	namespaces   = schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}
	applications = schema.GroupVersionResource{Group: "appstudio.redhat.com", Version: "v1alpha1", Resource: "applications"}
	components   = schema.GroupVersionResource{Group: "appstudio.redhat.com", Version: "v1alpha1", Resource: "components"}
	snapshots    = schema.GroupVersionResource{Group: "appstudio.redhat.com", Version: "v1alpha1", Resource: "snapshots"}
	releasePlans = schema.GroupVersionResource{Group: "appstudio.redhat.com", Version: "v1alpha1", Resource: "releaseplans"}
)

// Tenant describes a seeded Konflux tenant.
type Tenant struct {
	Namespace   string
	Application string
	Component   string
	SHA         string
	Repository  string            // registry host/path of the component's staging repository
	Digest      string            // digest of the image tagged SHA
	Platforms   map[string]string // platform → digest, for a multi-arch index
	Snapshot    string
	ReleasePlan string
}

// TenantOptions configure SeedTenant; zero values take the production defaults.
type TenantOptions struct {
	Namespace   string   // default aap-aa-tenant
	Application string   // default aap-aa-main
	Component   string   // default automation-analytics-backend-main
	SHA         string   // required
	Platforms   []string // a multi-arch index when set, else one linux/amd64 image
	NoImage     bool     // do not push the image (the build has not run)
	NoSnapshot  bool
}

// SeedTenant creates a tenant namespace like aap-aa-tenant: Application, Component (whose
// spec.containerImage names the staging repository in the sandbox registry), the image for the
// SHA, a push-event Snapshot whose tests passed, and a matched, active ReleasePlan.
func (s *Sandbox) SeedTenant(ctx context.Context, o TenantOptions) (*Tenant, error) {
	o = o.withDefaults()
	if len(o.SHA) != 40 {
		return nil, fmt.Errorf("seed: SHA must be 40 characters, got %q", o.SHA)
	}
	t := &Tenant{
		Namespace: o.Namespace, Application: o.Application, Component: o.Component, SHA: o.SHA,
		Repository:  s.Registry.Repository(fmt.Sprintf("redhat-user-workloads/%s/%s/%s", o.Namespace, o.Application, o.Component)),
		ReleasePlan: o.Application + "-prod",
	}
	if err := s.EnsureNamespace(ctx, o.Namespace); err != nil {
		return nil, err
	}
	if err := s.CreateApplication(ctx, o.Namespace, o.Application, o.Component, t.Repository); err != nil {
		return nil, err
	}
	if !o.NoImage {
		if err := s.pushTenantImage(ctx, t, o.Platforms); err != nil {
			return nil, err
		}
	}
	if !o.NoSnapshot && t.Digest != "" {
		t.Snapshot = fmt.Sprintf("%s-%s", o.Application, o.SHA[:8])
		if err := s.CreateSnapshot(ctx, SnapshotOptions{
			Namespace: o.Namespace, Name: t.Snapshot, Application: o.Application, Component: o.Component,
			SHA: o.SHA, Image: t.Repository + "@" + t.Digest, EventType: "push", Tests: "True",
		}); err != nil {
			return nil, err
		}
	}
	if err := s.CreateReleasePlan(ctx, ReleasePlanOptions{Namespace: o.Namespace, Name: t.ReleasePlan, Application: o.Application, Matched: true, Active: true}); err != nil {
		return nil, err
	}
	return t, nil
}

// withDefaults fills in the production names o leaves empty.
func (o TenantOptions) withDefaults() TenantOptions {
	if o.Namespace == "" {
		o.Namespace = "aap-aa-tenant"
	}
	if o.Application == "" {
		o.Application = "aap-aa-main"
	}
	if o.Component == "" {
		o.Component = "automation-analytics-backend-main"
	}
	return o
}

// CreateApplication creates Application application and its Component component in namespace
// ns, built from a GitHub repository named after it into the staging repository containerImage.
func (s *Sandbox) CreateApplication(ctx context.Context, ns, application, component, containerImage string) error {
	if err := s.Create(ctx, applications, ns, map[string]any{
		"metadata": map[string]any{"name": application},
		"spec":     map[string]any{"displayName": application},
	}); err != nil {
		return err
	}
	return s.Create(ctx, components, ns, map[string]any{
		"metadata": map[string]any{"name": component},
		"spec": map[string]any{
			"componentName":  component,
			"application":    application,
			"containerImage": containerImage,
			"source":         map[string]any{"git": map[string]any{"url": "https://github.com/example/" + component}},
		},
	})
}

// pushTenantImage pushes the image of t.SHA to t.Repository, a multi-arch index when platforms
// are given, and records its digest (and the platforms' digests) in t.
func (s *Sandbox) pushTenantImage(ctx context.Context, t *Tenant, platforms []string) error {
	var err error
	if len(platforms) > 0 {
		t.Digest, t.Platforms, err = s.Registry.PushIndex(ctx, t.Repository, t.SHA, platforms...)
	} else {
		t.Digest, err = s.Registry.PushImage(ctx, t.Repository, t.SHA)
	}
	return err
}

// SnapshotOptions describe a Snapshot.
type SnapshotOptions struct {
	Namespace, Name, Application, Component, SHA, Image string
	EventType                                           string // push or pull_request
	Tests                                               string // AppStudioTestSucceeded status: True, False, Unknown, or "" for none
	// ComponentGroup makes a Snapshot of a componentGroup (spec.componentGroup instead of
	// spec.application).
	ComponentGroup string
	// Annotations are added as they are (e.g. PaC's source-branch of a merge-queue build).
	Annotations map[string]string
}

// CreateSnapshot creates a Snapshot with the labels Konflux's integration service sets and the
// test outcome in its status.
func (s *Sandbox) CreateSnapshot(ctx context.Context, o SnapshotOptions) error {
	labels := map[string]any{
		"appstudio.openshift.io/component":           o.Component,
		"pac.test.appstudio.openshift.io/sha":        o.SHA,
		"pac.test.appstudio.openshift.io/event-type": o.EventType,
		"test.appstudio.openshift.io/type":           "component",
	}
	if o.EventType == "pull_request" {
		// PaC labels a pull-request build with its number; the integration service copies it.
		labels["pac.test.appstudio.openshift.io/pull-request"] = "1"
	}
	spec := map[string]any{"components": []any{map[string]any{"name": o.Component, "containerImage": o.Image}}}
	if o.ComponentGroup != "" {
		labels["appstudio.openshift.io/component-group"] = o.ComponentGroup
		spec["componentGroup"] = o.ComponentGroup
	} else {
		labels["appstudio.openshift.io/application"] = o.Application
		spec["application"] = o.Application
	}
	meta := map[string]any{"name": o.Name, "labels": labels}
	if len(o.Annotations) > 0 {
		ann := map[string]any{}
		for k, v := range o.Annotations {
			ann[k] = v
		}
		meta["annotations"] = ann
	}
	obj := map[string]any{"metadata": meta, "spec": spec}
	if err := s.Create(ctx, snapshots, o.Namespace, obj); err != nil {
		return err
	}
	if o.Tests == "" {
		return nil
	}
	reason := map[string]string{"True": "Passed", "False": "Failed", "Unknown": "InProgress"}[o.Tests]
	return s.SetStatus(ctx, snapshots, o.Namespace, o.Name, map[string]any{
		"conditions": []any{condition("AppStudioTestSucceeded", o.Tests, reason, "integration tests "+reason)},
	})
}

// ReleasePlanOptions describe a ReleasePlan.
type ReleasePlanOptions struct {
	Namespace, Name, Application string
	Matched, Active              bool
	// ComponentGroup makes a plan of a componentGroup (spec.componentGroup instead of
	// spec.application).
	ComponentGroup string
	// AutoRelease is the release.appstudio.openshift.io/auto-release label: "" for "false" (the
	// gates decide, as the project expects), "absent" for none (Konflux's default: on), or a value.
	AutoRelease string
}

// CreateReleasePlan creates a ReleasePlan for an application with its admission status.
func (s *Sandbox) CreateReleasePlan(ctx context.Context, o ReleasePlanOptions) error {
	labels := map[string]any{}
	switch o.AutoRelease {
	case "":
		labels["release.appstudio.openshift.io/auto-release"] = "false"
	case "absent":
	default:
		labels["release.appstudio.openshift.io/auto-release"] = o.AutoRelease
	}
	spec := map[string]any{"target": "rhtap-releng-tenant"}
	owner := o.Application
	if o.ComponentGroup != "" {
		spec["componentGroup"], owner = o.ComponentGroup, o.ComponentGroup
	} else {
		spec["application"] = o.Application
	}
	if err := s.Create(ctx, releasePlans, o.Namespace, map[string]any{
		"metadata": map[string]any{"name": o.Name, "labels": labels},
		"spec":     spec,
	}); err != nil {
		return err
	}
	matched, reason := "False", "NotMatched"
	if o.Matched {
		matched, reason = "True", "Matched"
	}
	return s.SetStatus(ctx, releasePlans, o.Namespace, o.Name, map[string]any{
		"conditions":           []any{condition("Matched", matched, reason, "")},
		"releasePlanAdmission": map[string]any{"name": "rhtap-releng-tenant/" + owner + "-prod", "active": o.Active},
	})
}

// EnsureNamespace creates a namespace unless it exists.
func (s *Sandbox) EnsureNamespace(ctx context.Context, name string) error {
	_, err := s.Dynamic.Resource(namespaces).Get(ctx, name, metav1.GetOptions{})
	if err == nil {
		return nil
	}
	u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": name}}}
	if _, err := s.Dynamic.Resource(namespaces).Create(ctx, u, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("seed: namespace %s: %w", name, err)
	}
	return nil
}

// Create creates a Konflux object from its metadata and spec.
func (s *Sandbox) Create(ctx context.Context, gvr schema.GroupVersionResource, ns string, obj map[string]any) error {
	obj["apiVersion"] = gvr.GroupVersion().String()
	obj["kind"] = kinds[gvr.Resource]
	u := &unstructured.Unstructured{Object: obj}
	if _, err := s.Dynamic.Resource(gvr).Namespace(ns).Create(ctx, u, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("seed: %s %s/%s: %w", obj["kind"], ns, u.GetName(), err)
	}
	return nil
}

var kinds = map[string]string{
	"applications": "Application", "components": "Component", "snapshots": "Snapshot",
	"releaseplans": "ReleasePlan", "releases": "Release", "releaseplanadmissions": "ReleasePlanAdmission",
}

// SetStatus replaces the status of an object through the status subresource, as the Konflux
// controllers (which do not run in the sandbox) would.
func (s *Sandbox) SetStatus(ctx context.Context, gvr schema.GroupVersionResource, ns, name string, status map[string]any) error {
	res := s.Dynamic.Resource(gvr).Namespace(ns)
	u, err := res.Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("seed: status of %s/%s: %w", ns, name, err)
	}
	u.Object["status"] = status
	if _, err := res.UpdateStatus(ctx, u, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("seed: status of %s/%s: %w", ns, name, err)
	}
	return nil
}

func condition(typ, status, reason, message string) map[string]any {
	return map[string]any{
		"type": typ, "status": status, "reason": reason, "message": message,
		"lastTransitionTime": time.Now().UTC().Format(time.RFC3339),
	}
}
