package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"

	"github.com/release-to-prod/release-to-prod/pkg/clients/konflux"
	"github.com/release-to-prod/release-to-prod/test/sandbox"
	"github.com/release-to-prod/release-to-prod/test/tools"
)

// rbacKnowledge is a team knowledge store with one active known issue.
const rbacKnowledge = `apiVersion: v1
kind: ConfigMap
metadata:
  name: release-knowledge
data:
  known-issues.yaml: |
    version: 1
    issues:
      - {service: quay, message: scans delayed}
`

// TestStepsUnderTheShippedRole applies config/rbac's ServiceAccounts and its self-hosted Roles
// into a tenant namespace and runs every Konflux step as the ServiceAccount its task runs as
// (impersonated: release-to-prod-releaser for create-release, release-to-prod for the rest),
// then checks that the Roles deny what the steps do not need. The hosted variant (RoleBindings
// to Konflux's own ClusterRoles) is TestTenantSetup's.
func TestStepsUnderTheShippedRole(t *testing.T) {
	s := sandbox.New(t)
	ctx := context.Background()
	tn := kxSeed(t, s, "rbac-tenant", sandbox.TenantOptions{})
	root, err := tools.Root()
	require.NoError(t, err)
	files, err := filepath.Glob(filepath.Join(root, "config", "rbac", "self-hosted", "*.yaml"))
	require.NoError(t, err)
	require.Len(t, files, 2, "Roles, RoleBindings")
	files = append([]string{filepath.Join(root, "config", "rbac", "serviceaccounts.yaml")}, files...)
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		require.NoError(t, s.ApplyManifests(ctx, tn.Namespace, b), f)
	}
	kubeconfig, asSA, err := s.ImpersonatingKubeconfig("system:serviceaccount:" + tn.Namespace + ":release-to-prod")
	require.NoError(t, err)
	env := func(kv ...string) map[string]string {
		e := kxEnv(s, tn, kv...)
		e["KUBECONFIG"] = kubeconfig
		return e
	}
	releaserKubeconfig, _, err := s.ImpersonatingKubeconfig("system:serviceaccount:" + tn.Namespace + ":release-to-prod-releaser")
	require.NoError(t, err)
	releaser := func(kv ...string) map[string]string {
		e := kxEnv(s, tn, kv...)
		e["KUBECONFIG"] = releaserKubeconfig
		return e
	}

	t.Run("steps succeed", func(t *testing.T) {
		// The team knowledge store, missing and then present: get only.
		r := runStep(t, "check-known-issues", env())
		require.Equal(t, 0, r.Code, "get on the (missing) knowledge ConfigMap")
		require.NoError(t, s.ApplyManifests(ctx, tn.Namespace, []byte(rbacKnowledge)))
		r = runStep(t, "check-known-issues", env())
		require.Equal(t, 0, r.Code, "get on the knowledge ConfigMap")
		assert.Equal(t, "quay: scans delayed", r.Results["KNOWN_ISSUES"])

		r = runStep(t, "check-image", env())
		require.Equal(t, 0, r.Code)
		r = runStep(t, "check-konflux", env("PINNED_DIGEST", tn.Digest))
		require.Equal(t, 0, r.Code, "get/list on the Konflux kinds, get on the (missing) history")
		assert.Equal(t, "false", r.Results["ALREADY_RELEASED"])

		r = runStep(t, "create-release", releaser("SNAPSHOT", tn.Snapshot, "RELEASE_PLAN", tn.ReleasePlan, "WAIT", "false"))
		require.Equal(t, 0, r.Code, "create releases")
		assert.Equal(t, "Created", r.Results["RELEASE_STATUS"])
		r = runStep(t, "create-release", releaser("SNAPSHOT", tn.Snapshot, "RELEASE_PLAN", tn.ReleasePlan, "WAIT", "false"))
		require.Equal(t, 0, r.Code, "list the Releases of the commit")
		assert.Equal(t, "Running", r.Results["RELEASE_STATUS"], "the first one is running: reported, not duplicated")
		r = runStep(t, "create-release", releaser("SNAPSHOT", tn.Snapshot, "RELEASE_PLAN", tn.ReleasePlan, "DRY_RUN", "true"))
		require.Equal(t, 0, r.Code)
		assert.NotContains(t, r.Output, "could not check")

		// Waiting polls with get: a second plan, so a second Release, finished by the test.
		plan2 := "rbac-plan-2"
		require.NoError(t, s.CreateReleasePlan(ctx, sandbox.ReleasePlanOptions{Namespace: tn.Namespace, Name: plan2, Application: tn.Application, Matched: true, Active: true}))
		p := kxCommand(t, "create-release", releaser("SNAPSHOT", tn.Snapshot, "RELEASE_PLAN", plan2, "PROGRESS_INTERVAL", "1s", "TIMEOUT", "2m"))
		require.NoError(t, p.cmd.Start())
		name2 := konflux.ReleaseName(tn.Component, tn.SHA, plan2)
		kxPoll(t, "the step to wait", time.Minute, func() bool { return strings.Contains(p.out.String(), "(elapsed ") })
		require.NoError(t, s.SetStatus(ctx, sandbox.Releases, tn.Namespace, name2, sandbox.ReleaseStatus("True", "")))
		res, err := p.wait()
		require.NoError(t, err)
		require.Equal(t, 0, res.Code, res.Output)
		assert.Equal(t, "Succeeded", res.Results["RELEASE_STATUS"])

		for i, status := range []string{"Succeeded", "Succeeded"} { // create, then get + update
			r = runStep(t, "record-history", env("RELEASE_NAME", name2, "STATUS", status, "SNAPSHOT", tn.Snapshot))
			require.Equal(t, 0, r.Code, "record-history #%d", i+1)
		}
		r = runStep(t, "check-konflux", env("RELEASE_PLAN", tn.ReleasePlan))
		require.Equal(t, 0, r.Code)
		assert.Equal(t, "true", r.Results["ALREADY_RELEASED"])
		assert.Equal(t, name2, r.Results["LATEST_RELEASE"])
	})

	t.Run("the Role denies the rest", func(t *testing.T) {
		dyn, err := dynamic.NewForConfig(asSA)
		require.NoError(t, err)
		name := konflux.ReleaseName(tn.Component, tn.SHA, tn.ReleasePlan)
		secrets := schema.GroupVersionResource{Version: "v1", Resource: "secrets"}
		releases := dyn.Resource(sandbox.Releases).Namespace(tn.Namespace)
		cms := dyn.Resource(sandbox.ConfigMaps).Namespace(tn.Namespace)
		denied := map[string]func() error{
			"delete a Release": func() error { return releases.Delete(ctx, name, metav1.DeleteOptions{}) },
			"patch a Release": func() error {
				_, err := releases.Patch(ctx, name, types.MergePatchType, []byte(`{"metadata":{"labels":{"x":"y"}}}`), metav1.PatchOptions{})
				return err
			},
			"update a Release's status": func() error {
				u, err := s.Dynamic.Resource(sandbox.Releases).Namespace(tn.Namespace).Get(ctx, name, metav1.GetOptions{})
				if err != nil {
					return err
				}
				_, err = releases.UpdateStatus(ctx, u, metav1.UpdateOptions{})
				return err
			},
			"watch Releases": func() error {
				w, err := releases.Watch(ctx, metav1.ListOptions{})
				if err == nil {
					w.Stop()
				}
				return err
			},
			"create a Snapshot": func() error {
				_, err := dyn.Resource(sandbox.Snapshots).Namespace(tn.Namespace).Create(ctx, &unstructured.Unstructured{Object: map[string]any{
					"apiVersion": "appstudio.redhat.com/v1alpha1", "kind": "Snapshot", "metadata": map[string]any{"name": "forged"},
					"spec": map[string]any{"application": tn.Application, "components": []any{}}}}, metav1.CreateOptions{})
				return err
			},
			"delete a ReleasePlan": func() error {
				return dyn.Resource(sandbox.ReleasePlans).Namespace(tn.Namespace).Delete(ctx, tn.ReleasePlan, metav1.DeleteOptions{})
			},
			"read Secrets": func() error {
				_, err := dyn.Resource(secrets).Namespace(tn.Namespace).List(ctx, metav1.ListOptions{})
				return err
			},
			"list ConfigMaps": func() error {
				_, err := cms.List(ctx, metav1.ListOptions{})
				return err
			},
			"read another ConfigMap": func() error {
				_, err := cms.Get(ctx, "kube-root-ca.crt", metav1.GetOptions{})
				return err
			},
			"delete the history": func() error { return cms.Delete(ctx, "release-history", metav1.DeleteOptions{}) },
			"update the knowledge store": func() error {
				u, err := s.Dynamic.Resource(sandbox.ConfigMaps).Namespace(tn.Namespace).Get(ctx, "release-knowledge", metav1.GetOptions{})
				if err != nil {
					return err
				}
				_, err = cms.Update(ctx, u, metav1.UpdateOptions{})
				return err
			},
			"patch the knowledge store": func() error {
				_, err := cms.Patch(ctx, "release-knowledge", types.MergePatchType, []byte(`{"data":{"learned-fixes.yaml":"x"}}`), metav1.PatchOptions{})
				return err
			},
			"delete the knowledge store": func() error { return cms.Delete(ctx, "release-knowledge", metav1.DeleteOptions{}) },
			"watch the knowledge store": func() error {
				w, err := cms.Watch(ctx, metav1.ListOptions{FieldSelector: "metadata.name=release-knowledge"})
				if err == nil {
					w.Stop()
				}
				return err
			},
			"create a Release (the preflight's and the report's ServiceAccount)": func() error {
				_, err := releases.Create(ctx, &unstructured.Unstructured{Object: map[string]any{
					"apiVersion": "appstudio.redhat.com/v1alpha1", "kind": "Release", "metadata": map[string]any{"name": "forged-release"},
					"spec": map[string]any{"snapshot": tn.Snapshot, "releasePlan": tn.ReleasePlan}}}, metav1.CreateOptions{})
				return err
			},
			"read Releases of another namespace": func() error {
				_, err := dyn.Resource(sandbox.Releases).Namespace("default").List(ctx, metav1.ListOptions{})
				return err
			},
		}
		for what, call := range denied {
			err := call()
			assert.True(t, apierrors.IsForbidden(err), "%s: want Forbidden, got %v", what, err)
		}
		// A history the ServiceAccount may not write: one line naming the right and the fix, the
		// outcome recorded as given in the results, the step (and so the report) not failed.
		r := runStep(t, "record-history", env("STATUS", "Succeeded", "HISTORY_CONFIGMAP", "other-history"))
		assert.Equal(t, 0, r.Code, r.Output)
		assert.Equal(t, "Succeeded", r.Results["RELEASE_STATUS"])
		assert.Contains(t, r.Results["RECORD_NOTE"], "not recorded in ConfigMap other-history: the ServiceAccount may not get configmaps")
		assert.Contains(t, r.Results["RECORD_NOTE"], "tenant-setup.sh")
		assert.Contains(t, r.Output, "! history not recorded")
	})
}
