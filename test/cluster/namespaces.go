package cluster

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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
	return c.WaitFor(ctx, "ServiceAccount default and kube-root-ca.crt in "+name, time.Minute, func(ctx context.Context) (bool, error) {
		if _, err := c.Client.CoreV1().ServiceAccounts(name).Get(ctx, "default", metav1.GetOptions{}); err != nil {
			return false, nil
		}
		_, err := c.Client.CoreV1().ConfigMaps(name).Get(ctx, "kube-root-ca.crt", metav1.GetOptions{})
		return err == nil, nil
	})
}

// InstallCRDs installs the CustomResourceDefinitions found in dirs (the project's test/crds, the
// upstream Konflux CRDs) and waits until they are served.
func (c *Cluster) InstallCRDs(dirs ...string) error {
	if _, err := envtest.InstallCRDs(c.Config, envtest.CRDInstallOptions{Paths: dirs, ErrorIfPathMissing: true}); err != nil {
		return fmt.Errorf("cluster: installing CRDs from %v: %w", dirs, err)
	}
	return nil
}
