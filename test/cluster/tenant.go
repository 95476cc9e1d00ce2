package cluster

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// RestrictedNamespace creates a namespace under the restricted Pod Security Standard, as a
// Konflux tenant namespace is, and waits for its default ServiceAccount.
func (c *Cluster) RestrictedNamespace(ctx context.Context, name string) error {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{
		"pod-security.kubernetes.io/enforce":         "restricted",
		"pod-security.kubernetes.io/enforce-version": "latest",
	}}}
	if _, err := c.Client.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("cluster: namespace %s: %w", name, err)
	}
	// kube-controller-manager creates the default ServiceAccount every pod runs as, and the
	// root CA ConfigMap its projected token volume needs.
	return c.waitFor(ctx, "ServiceAccount default and kube-root-ca.crt in "+name, time.Minute, func(ctx context.Context) (bool, error) {
		if _, err := c.Client.CoreV1().ServiceAccounts(name).Get(ctx, "default", metav1.GetOptions{}); err != nil {
			return false, nil
		}
		_, err := c.Client.CoreV1().ConfigMaps(name).Get(ctx, "kube-root-ca.crt", metav1.GetOptions{})
		return err == nil, nil
	})
}

// TenantRules are the rights a Konflux tenant has over Tekton in its namespace, as far as this
// project relies on them: create and follow PipelineRuns, read TaskRuns and their pods' logs —
// never create Tasks, Pipelines or StepActions.
var TenantRules = []rbacv1.PolicyRule{
	{APIGroups: []string{"tekton.dev"}, Resources: []string{"pipelineruns", "taskruns"}, Verbs: []string{"create", "get", "list", "watch"}},
	{APIGroups: []string{""}, Resources: []string{"pods", "pods/log"}, Verbs: []string{"get", "list", "watch"}},
	{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"create", "get"}},
}

// Tenant binds user to a Role holding TenantRules in namespace and returns a rest.Config that
// impersonates that user: the test then acts with a tenant's rights only.
func (c *Cluster) Tenant(ctx context.Context, namespace, user string) (*rest.Config, error) {
	role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "tenant", Namespace: namespace}, Rules: TenantRules}
	if _, err := c.Client.RbacV1().Roles(namespace).Create(ctx, role, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return nil, fmt.Errorf("cluster: tenant role: %w", err)
	}
	rb := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "tenant-" + user, Namespace: namespace},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "tenant"},
		Subjects:   []rbacv1.Subject{{APIGroup: "rbac.authorization.k8s.io", Kind: "User", Name: user}},
	}
	if _, err := c.Client.RbacV1().RoleBindings(namespace).Create(ctx, rb, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return nil, fmt.Errorf("cluster: tenant role binding: %w", err)
	}
	cfg := rest.CopyConfig(c.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: user, Groups: []string{"system:authenticated"}}
	return cfg, nil
}

// InstallCRDs installs the CustomResourceDefinitions found in dirs (the project's test/crds, the
// upstream Konflux CRDs) and waits until they are served.
func (c *Cluster) InstallCRDs(dirs ...string) error {
	if _, err := envtest.InstallCRDs(c.Config, envtest.CRDInstallOptions{Paths: dirs, ErrorIfPathMissing: true}); err != nil {
		return fmt.Errorf("cluster: installing CRDs from %v: %w", dirs, err)
	}
	return nil
}
