package e2e

import (
	"context"
	"encoding/json"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes"

	"github.com/release-to-prod/release-to-prod/pkg/actions/history"
	"github.com/release-to-prod/release-to-prod/pkg/clients/konflux"
	"github.com/release-to-prod/release-to-prod/pkg/localrun/runner"
	"github.com/release-to-prod/release-to-prod/test/sandbox"
	"github.com/release-to-prod/release-to-prod/test/tenantsetup"
	"github.com/release-to-prod/release-to-prod/test/tools"
)

// TestHistoryWithoutConfigMapWrite: a tenant set up under hosted Konflux's own roles, by the
// README's script as a tenant admin, where no role below the admin writes ConfigMaps. A release
// and then a blocked run of the Pipeline: each run says in one line (and in Slack) that the
// history ConfigMap was not written and where the record is, the outcome unchanged; the
// Release carries its run's record from its creation; and the real tkn-local history, as the
// tenant admin, shows both runs, newest first, from the Release and PipelineRun stores.
//
// The sandbox runs no Tekton: the runs go through the local runner, and each PipelineRun is
// stored as Tekton stores one (the run's params, the Pipeline's spec in status.pipelineSpec,
// the condition and results Tekton's own code worked out), under a PipelineRun CRD the test
// installs. TestPipelineOnNode shows the same on a real Tekton.
func TestHistoryWithoutConfigMapWrite(t *testing.T) {
	k := newPipelineKit(t)
	s := k.s
	ctx := context.Background()
	ensurePipelineRunCRD(t, s)
	tn := k.tenant(t, "history-hosted", sandbox.TenantOptions{})
	kc, adminKubeconfig := setUpAsTenantAdmin(t, s, tn.Namespace, tenantsetup.Hosted)
	// The local runner runs every step with one kubeconfig: a ServiceAccount bound to the
	// roles of both of the project's ServiceAccounts, by the RoleBindings the script made.
	runAs := localRunServiceAccount(t, kc, tn.Namespace)
	saKubeconfig, _, err := s.ImpersonatingKubeconfig("system:serviceaccount:" + tn.Namespace + ":" + runAs)
	require.NoError(t, err)
	// The Secrets the Tasks mount are read as the kubelet reads them, not with the steps'
	// ServiceAccount (which may not read Secrets): here with the tenant admin's kubeconfig.
	withKubeconfig := func(o *runner.Options) { o.Kubeconfig, o.MountKubeconfig = saKubeconfig, adminKubeconfig }

	const blockedSHA = "89e6c98d92887913cadf06b2adb97f26cde4849b" // no build: no image, no Snapshot
	runs := []struct {
		sha, status string
		release     bool
	}{{pipelineSHA, "Succeeded", true}, {blockedSHA, "Blocked", false}}
	var names []string
	var releaseName string
	for i, want := range runs {
		if i > 0 {
			sandbox.WaitNextSecond() // newest first, by the API server's one-second timestamps
		}
		r := k.run(t, k.params(tn, "commit_sha", want.sha, "skip_alerts", "true", "skip_app_interface", "true"), tn.Workspaces, withKubeconfig)
		require.NoError(t, r.Err)
		names = append(names, r.Name)
		status, _ := r.result("RELEASE_STATUS")
		assert.Equal(t, want.status, status, "the outcome stands: %s", r.statuses())
		note := r.taskResult("report", "RECORD_NOTE")
		assert.Contains(t, note, "not recorded in ConfigMap release-history: the ServiceAccount may not create configmaps", "one line naming the missing right")
		assert.Contains(t, note, "tkn-local history "+tn.Component+" -n "+tn.Namespace, "and where the record is")
		assert.Equal(t, "Succeeded", r.task("report").Status, "a refused history write never fails the report")
		posts := tn.Hook.Posts()
		if assert.Len(t, posts, i+1) {
			assert.Contains(t, posts[i].Body, "may not create configmaps", "Slack is told")
		}
		if want.release {
			releaseName, _ = r.result("RELEASE_NAME")
			rel, err := s.Dynamic.Resource(konflux.ReleasesResource).Namespace(tn.Namespace).Get(ctx, releaseName, metav1.GetOptions{})
			require.NoError(t, err)
			assert.Equal(t, r.Name, rel.GetLabels()[konflux.LabelPipelineRun], "the Release carries its run from its creation")
			assert.Equal(t, r.Name, rel.GetAnnotations()[konflux.AnnotationPipelineRun])
			assert.Contains(t, rel.GetAnnotations()[konflux.AnnotationGates], "image ✓")
		}
		storePipelineRun(t, s, tn.Namespace, k.params(tn, "commit_sha", want.sha), r, &k.pipeline.Spec)
	}
	_, err = kc.CoreV1().ConfigMaps(tn.Namespace).Get(ctx, "release-history", metav1.GetOptions{})
	assert.True(t, apierrors.IsNotFound(err), "no history ConfigMap: %v", err)

	_, tknLocalRun := tknLocal(t)
	code, table := tknLocalRun("history", tn.Component, "-n", tn.Namespace, "--kubeconfig", adminKubeconfig)
	require.Equal(t, 0, code, table)
	var rows []string
	for _, l := range strings.Split(strings.TrimSpace(table), "\n") {
		if !strings.HasPrefix(l, "RUN ") && !strings.HasPrefix(l, "!") {
			rows = append(rows, strings.Join(strings.Fields(l), " "))
		}
	}
	require.Len(t, rows, 2, "one row per run:\n%s", table)
	assert.Regexp(t, "^"+names[1]+" "+blockedSHA[:12]+" Blocked \\S+ - .*image ✗.* pipelinerun$", rows[0], "the blocked run first, from its PipelineRun")
	assert.Regexp(t, "^"+names[0]+" "+pipelineSHA[:12]+" Succeeded \\S+ "+releaseName+" .*image ✓.* pipelinerun,release$", rows[1], "the release, from its PipelineRun and its Release")
}

// setUpAsTenantAdmin installs Konflux's roles of variant v, binds a tenant admin in ns as
// Konflux does, runs the README's set-up script as that admin, as written, and returns a
// cluster-admin client and the admin's kubeconfig.
func setUpAsTenantAdmin(t *testing.T, s *sandbox.Sandbox, ns string, v tenantsetup.Variant) (kubernetes.Interface, string) {
	t.Helper()
	ctx := context.Background()
	root, err := tools.Root()
	require.NoError(t, err)
	kubectl, err := tools.Path(ctx, tools.Kubectl, io.Discard)
	require.NoError(t, err)
	kc, err := kubernetes.NewForConfig(s.Config)
	require.NoError(t, err)
	roles, err := tenantsetup.ClusterRoles(root, v)
	require.NoError(t, err)
	require.NoError(t, tenantsetup.Install(ctx, kc, roles))
	const admin = "tenant-admin"
	require.NoError(t, tenantsetup.BindAdmin(ctx, kc, ns, admin, tenantsetup.AdminRoles(v, roles)))
	adminKubeconfig, _, err := s.ImpersonatingKubeconfig(admin)
	require.NoError(t, err)
	out, err := tenantsetup.RunScript(ctx, root, kubectl, adminKubeconfig, ns, v.SelfHosted())
	require.NoError(t, err, "the README's set-up, as a %s tenant admin", v)
	t.Log(out)
	return kc, adminKubeconfig
}

// localRunServiceAccount creates a ServiceAccount bound to the roles the set-up script bound
// the project's ServiceAccounts to, and returns its name.
func localRunServiceAccount(t *testing.T, kc kubernetes.Interface, ns string) string {
	t.Helper()
	ctx := context.Background()
	const name = "local-run"
	_, err := kc.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	require.NoError(t, err)
	project, err := kc.RbacV1().RoleBindings(ns).List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/name=release-to-prod"})
	require.NoError(t, err)
	require.Len(t, project.Items, 2, "the script binds two ServiceAccounts")
	for _, b := range project.Items {
		require.Equal(t, "ClusterRole", b.RoleRef.Kind, "hosted Konflux: bindings to Konflux's ClusterRoles")
		_, err := kc.RbacV1().RoleBindings(ns).Create(ctx, &rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: name + "-" + b.Name},
			RoleRef:    b.RoleRef,
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: name, Namespace: ns}},
		}, metav1.CreateOptions{})
		require.NoError(t, err)
	}
	return name
}

// storePipelineRun stores run r as Tekton stores a PipelineRun: its params, the Pipeline's spec
// in status.pipelineSpec, and the condition and results the runner worked out with Tekton's
// code (its pipelinerun.json).
func storePipelineRun(t *testing.T, s *sandbox.Sandbox, ns string, params map[string]string, r *pipelineRun, pipelineSpec *v1.PipelineSpec) {
	t.Helper()
	var obj map[string]any
	require.NoError(t, json.Unmarshal([]byte(r.Files[runner.PipelineRunFile]), &obj))
	var ps []any
	for n, v := range params {
		ps = append(ps, map[string]any{"name": n, "value": v})
	}
	spec, err := json.Marshal(pipelineSpec)
	require.NoError(t, err)
	var specObj map[string]any
	require.NoError(t, json.Unmarshal(spec, &specObj))
	obj["spec"] = map[string]any{"params": ps}
	status, _ := obj["status"].(map[string]any)
	if status == nil {
		status = map[string]any{}
	}
	status["pipelineSpec"] = specObj
	obj["status"] = status
	u := &unstructured.Unstructured{Object: obj}
	u.SetNamespace(ns)
	res := s.Dynamic.Resource(konflux.PipelineRunsResource).Namespace(ns)
	created, err := res.Create(context.Background(), u, metav1.CreateOptions{})
	require.NoError(t, err)
	created.Object["status"] = status
	_, err = res.UpdateStatus(context.Background(), created, metav1.UpdateOptions{})
	require.NoError(t, err)
	got, ok := history.RunFromPipelineRun(u, params["component"])
	require.True(t, ok, "a run of release-to-prod")
	t.Logf("PipelineRun %s stored: %+v", u.GetName(), got)
}
