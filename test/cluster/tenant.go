package cluster

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/release-to-prod/release-to-prod/test/tenantsetup"
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

// TenantAdmin installs Konflux's own ClusterRoles of variant v (read beside the checkout at
// root), binds TenantAdminUser to the admin role in namespace by RoleBindings, as Konflux binds
// a tenant's admins, and returns a rest.Config acting as that user: the test then acts with a
// tenant admin's rights only. The variants' roles share two names (the bot roles) with the same
// rules, so tenants of both variants live on one cluster.
func (c *Cluster) TenantAdmin(ctx context.Context, root, namespace string, v tenantsetup.Variant) (*rest.Config, error) {
	roles, err := tenantsetup.ClusterRoles(root, v)
	if err != nil {
		return nil, fmt.Errorf("cluster: tenant %s: %w", namespace, err)
	}
	if err := tenantsetup.Install(ctx, c.Client, roles); err != nil {
		return nil, fmt.Errorf("cluster: tenant %s: %w", namespace, err)
	}
	if err := tenantsetup.BindAdmin(ctx, c.Client, namespace, TenantAdminUser, tenantsetup.AdminRoles(v, roles)); err != nil {
		return nil, fmt.Errorf("cluster: tenant %s: %w", namespace, err)
	}
	cfg := rest.CopyConfig(c.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: TenantAdminUser, Groups: []string{"system:authenticated"}}
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
