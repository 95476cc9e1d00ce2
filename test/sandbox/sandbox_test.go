package sandbox

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

const sha = "0123456789abcdef0123456789abcdef01234567"

var releases = schema.GroupVersionResource{Group: "appstudio.redhat.com", Version: "v1alpha1", Resource: "releases"}

// TestCRDsAreEnforced proves the API server really validates Konflux objects: the same checks
// must hold with the project's CRDs and with the upstream ones (CI sets SANDBOX_UPSTREAM_CRDS).
func TestCRDsAreEnforced(t *testing.T) {
	s := New(t)
	ctx := context.Background()
	t.Logf("CRDs installed: %s", s.CRDs)
	tenant, err := s.SeedTenant(ctx, TenantOptions{SHA: sha})
	require.NoError(t, err)

	tests := []struct {
		name    string
		gvr     schema.GroupVersionResource
		obj     map[string]any
		wantErr string
		// projectOnly: the upstream CRD does not encode this limit (the release-service checks it
		// elsewhere), so the project's steps check it themselves before calling the API.
		projectOnly bool
	}{
		{name: "release without snapshot", gvr: releases, wantErr: "spec.snapshot",
			obj: map[string]any{"metadata": map[string]any{"name": "r1"}, "spec": map[string]any{"releasePlan": tenant.ReleasePlan}}},
		{name: "release without releasePlan", gvr: releases, wantErr: "spec.releasePlan",
			obj: map[string]any{"metadata": map[string]any{"name": "r2"}, "spec": map[string]any{"snapshot": tenant.Snapshot}}},
		{name: "valid release", gvr: releases,
			obj: map[string]any{"metadata": map[string]any{"name": "r3"}, "spec": map[string]any{"snapshot": tenant.Snapshot, "releasePlan": tenant.ReleasePlan}}},
		{name: "releaseplan with both application and componentGroup", gvr: releasePlans, wantErr: "exactly one of application or componentGroup",
			obj: map[string]any{"metadata": map[string]any{"name": "rp-both"}, "spec": map[string]any{"application": "a", "componentGroup": "g"}}},
		{name: "releaseplan with neither", gvr: releasePlans, wantErr: "exactly one of application or componentGroup",
			obj: map[string]any{"metadata": map[string]any{"name": "rp-none"}, "spec": map[string]any{"target": "x"}}},
		{name: "snapshot name over 63 characters is rejected for releases", gvr: releases, wantErr: "snapshot", projectOnly: true,
			obj: map[string]any{"metadata": map[string]any{"name": "r4"}, "spec": map[string]any{"snapshot": strings.Repeat("s", 64), "releasePlan": tenant.ReleasePlan}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.Create(ctx, tt.gvr, tenant.Namespace, tt.obj)
			if tt.projectOnly && s.CRDs != "project" {
				assert.NoError(t, err, "upstream CRDs accept it; update this case if they start enforcing it")
				return
			}
			if tt.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
		})
	}
}

func TestSeedTenant(t *testing.T) {
	s := New(t)
	ctx := context.Background()
	tenant, err := s.SeedTenant(ctx, TenantOptions{SHA: sha, Platforms: []string{"linux/amd64", "linux/arm64"}})
	require.NoError(t, err)
	require.Len(t, tenant.Platforms, 2)

	comp, err := s.Dynamic.Resource(components).Namespace(tenant.Namespace).Get(ctx, tenant.Component, metav1.GetOptions{})
	require.NoError(t, err)
	img, _, _ := unstructured.NestedString(comp.Object, "spec", "containerImage")
	assert.Equal(t, tenant.Repository, img)

	snap, err := s.Dynamic.Resource(snapshots).Namespace(tenant.Namespace).List(ctx, metav1.ListOptions{
		LabelSelector: "appstudio.openshift.io/component=" + tenant.Component + ",pac.test.appstudio.openshift.io/sha=" + sha})
	require.NoError(t, err)
	require.Len(t, snap.Items, 1)
	conds, _, _ := unstructured.NestedSlice(snap.Items[0].Object, "status", "conditions")
	require.Len(t, conds, 1)

	ref, err := name.ParseReference(tenant.Repository+":"+sha, name.Insecure)
	require.NoError(t, err)
	desc, err := remote.Head(ref)
	require.NoError(t, err)
	assert.Equal(t, tenant.Digest, desc.Digest.String())

	s.Registry.RequireAuth("robot", "secret")
	_, err = remote.Head(ref)
	require.Error(t, err, "credentials are now required")
}
