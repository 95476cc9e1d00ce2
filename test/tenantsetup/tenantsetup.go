// Package tenantsetup sets a tenant namespace up as a Konflux tenant admin really can: Konflux's
// own ClusterRoles (the reference copies in ../shared/konflux-rbac beside the checkout, never
// copied into the project), a user bound to the admin role by a RoleBinding in the namespace, as
// Konflux binds its tenant admins, and the README's set-up script run as that user. A step of the
// script that such an admin may not perform fails the set-up, and so the test.
package tenantsetup

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/yaml"
)

// Variant is a set of Konflux ClusterRoles: a folder of ../shared/konflux-rbac.
type Variant string

// The variants: hosted Konflux (its admin may not create Roles), and self-hosted Konflux as the
// operator installs it (its admin may).
const (
	Hosted   Variant = "hosted"
	Upstream Variant = "upstream"
)

// SelfHosted reports whether the variant's admin may create Roles: the set-up script then runs
// with --self-hosted.
func (v Variant) SelfHosted() bool { return v == Upstream }

// Dir is the folder of the variant's ClusterRoles, beside the checkout at root.
func Dir(root string, v Variant) string {
	return filepath.Join(filepath.Dir(root), "shared", "konflux-rbac", string(v))
}

// ClusterRoles reads the variant's ClusterRoles: every YAML file of hosted/, and of upstream/
// the files its kustomization.yaml lists (the operator makes the aggregating roles from them).
func ClusterRoles(root string, v Variant) ([]rbacv1.ClusterRole, error) {
	dir := Dir(root, v)
	var files []string
	if v == Upstream {
		b, err := os.ReadFile(filepath.Join(dir, "kustomization.yaml"))
		if err != nil {
			return nil, fmt.Errorf("konflux roles: %w", err)
		}
		var k struct{ Resources []string }
		if err := yaml.Unmarshal(b, &k); err != nil {
			return nil, fmt.Errorf("konflux roles: %s/kustomization.yaml: %w", dir, err)
		}
		for _, r := range k.Resources {
			files = append(files, filepath.Join(dir, r))
		}
	} else {
		var err error
		if files, err = filepath.Glob(filepath.Join(dir, "*.yaml")); err != nil {
			return nil, fmt.Errorf("konflux roles: %w", err)
		}
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("konflux roles: no ClusterRole in %s (the reference data lives beside the checkout)", dir)
	}
	var out []rbacv1.ClusterRole
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("konflux roles: %w", err)
		}
		r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(b)))
		for {
			doc, err := r.Read()
			if errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				return nil, fmt.Errorf("konflux roles: %s: %w", f, err)
			}
			if len(bytes.TrimSpace(doc)) == 0 {
				continue
			}
			var cr rbacv1.ClusterRole
			if err := yaml.Unmarshal(doc, &cr); err != nil {
				return nil, fmt.Errorf("konflux roles: %s: %w", f, err)
			}
			if cr.Kind == "ClusterRole" {
				out = append(out, cr)
			}
		}
	}
	return out, nil
}

// AdminRoles are the ClusterRoles that make a tenant admin: konflux-admin-user-actions on
// hosted Konflux; on self-hosted Konflux those labelled to aggregate into it (what the
// operator's aggregating role holds).
func AdminRoles(v Variant, roles []rbacv1.ClusterRole) []string {
	var out []string
	for _, r := range roles {
		if (v == Hosted && r.Name == "konflux-admin-user-actions") || (v == Upstream && r.Labels["rbac.konflux-ci.dev/aggregate-to-admin"] == "true") {
			out = append(out, r.Name)
		}
	}
	return out
}

// Install creates the ClusterRoles, or replaces their rules when they exist (the variants share
// some names), as the cluster's operator would.
func Install(ctx context.Context, kc kubernetes.Interface, roles []rbacv1.ClusterRole) error {
	for _, r := range roles {
		r := r
		_, err := kc.RbacV1().ClusterRoles().Create(ctx, &r, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			var cur *rbacv1.ClusterRole
			if cur, err = kc.RbacV1().ClusterRoles().Get(ctx, r.Name, metav1.GetOptions{}); err == nil {
				cur.Rules, cur.Labels, cur.AggregationRule = r.Rules, r.Labels, r.AggregationRule
				_, err = kc.RbacV1().ClusterRoles().Update(ctx, cur, metav1.UpdateOptions{})
			}
		}
		if err != nil {
			return fmt.Errorf("ClusterRole %s: %w", r.Name, err)
		}
	}
	return nil
}

// BindAdmin binds user to the admin roles in namespace, one RoleBinding each, as Konflux does
// for a tenant's admins.
func BindAdmin(ctx context.Context, kc kubernetes.Interface, namespace, user string, adminRoles []string) error {
	if len(adminRoles) == 0 {
		return errors.New("tenant admin: no admin ClusterRole in the variant")
	}
	for _, name := range adminRoles {
		rb := &rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: name + "-" + user},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: name},
			Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: user}},
		}
		if _, err := kc.RbacV1().RoleBindings(namespace).Create(ctx, rb, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("tenant admin %s: RoleBinding to %s: %w", user, name, err)
		}
	}
	return nil
}

// Script is the README's set-up script, relative to the checkout.
const Script = "config/tenant-setup.sh"

// RunScript runs the README's set-up script for namespace as written, with kubectl (the
// binary at kubectl) acting through kubeconfig (the tenant admin's). prefix, when given, is the
// command the script runs under (e.g. nsenter into the network namespace the API server is
// reachable from). Its output comes back with the error when it fails.
func RunScript(ctx context.Context, root, kubectl, kubeconfig, namespace string, selfHosted bool, prefix ...string) (string, error) {
	args := []string{namespace}
	if selfHosted {
		args = append(args, "--self-hosted")
	}
	name := filepath.Join(root, Script)
	if len(prefix) > 0 {
		args = append(append(append([]string{}, prefix[1:]...), name), args...)
		name = prefix[0]
	}
	home, err := os.MkdirTemp("", "tenant-admin-home-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(home) // kubectl's discovery cache
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "KUBECONFIG=" + kubeconfig, "KUBECTL=" + kubectl}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s %s as the tenant admin: %w\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// ImpersonatingKubeconfig writes to path a copy of the kubeconfig at admin whose users act as
// user (member of system:authenticated), as the tenant admin's own login would.
func ImpersonatingKubeconfig(admin, path, user string) error {
	cfg, err := clientcmd.LoadFromFile(admin)
	if err != nil {
		return fmt.Errorf("kubeconfig as %s: %w", user, err)
	}
	for _, a := range cfg.AuthInfos {
		a.Impersonate = user
		a.ImpersonateGroups = []string{"system:authenticated"}
	}
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		return fmt.Errorf("kubeconfig as %s: %w", user, err)
	}
	return nil
}
