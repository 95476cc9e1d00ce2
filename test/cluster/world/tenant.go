package world

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"sync"

	tektonclient "github.com/tektoncd/pipeline/pkg/client/clientset/versioned"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/release-to-prod/release-to-prod/pkg/actions/history"
	"github.com/release-to-prod/release-to-prod/test/cluster"
	"github.com/release-to-prod/release-to-prod/test/tenantsetup"
	"github.com/release-to-prod/release-to-prod/test/tools"
)

// Tenant is a restricted tenant namespace set up as a Konflux tenant admin does it (Konflux's
// own roles, the README's set-up script run as the admin), a Slack sink over HTTPS whose URL is
// the Secret release-to-prod-slack-webhook, and a Tekton client acting as that admin: on hosted Konflux only the
// tenant admin may create PipelineRuns.
type Tenant struct {
	NS       string
	SlackURL string // the webhook URL, as pods see it
	Tekton   tektonclient.Interface
	// AdminKubeconfig acts as the tenant admin: tkn-local reads the Secrets the Tasks mount
	// with it, as the kubelet reads them with its own credentials.
	AdminKubeconfig string
	Variant         tenantsetup.Variant // Konflux's roles the tenant was set up with

	c     *cluster.Cluster
	mu    sync.Mutex
	posts []string
}

// TenantAdminUser is the user the tenant admin acts as.
const TenantAdminUser = "tenant-admin"

// TenantVariant is the set of Konflux's roles a tenant gets unless told otherwise (NewTenantAs).
// Self-hosted (upstream): its admin may create Roles, and the history ConfigMap is writable by
// the report's ServiceAccount there. The release scenarios of TestPipelineOnNode run under the
// hosted variant (no Role create, no ConfigMap write below admin).
const TenantVariant = tenantsetup.Upstream

// NewTenant creates namespace ns under restricted pod security and sets it up as a Konflux
// tenant admin does: Konflux's own ClusterRoles of TenantVariant (read beside the checkout at
// root), TenantAdminUser bound to the admin role by RoleBindings in ns as Konflux binds it, the
// README's set-up script (config/tenant-setup.sh) run as that user, as written, and the
// Slack webhook Secret created by that user under the name the Pipeline mounts by default. A step the admin may not perform fails here.
func NewTenant(ctx context.Context, c *cluster.Cluster, root, ns string) (*Tenant, error) {
	return NewTenantAs(ctx, c, root, ns, TenantVariant)
}

// NewTenantAs is NewTenant with Konflux's roles of variant v: the README's set-up script runs
// as written for that variant (hosted: the default; upstream: --self-hosted).
func NewTenantAs(ctx context.Context, c *cluster.Cluster, root, ns string, v tenantsetup.Variant) (*Tenant, error) {
	if err := c.RestrictedNamespace(ctx, ns); err != nil {
		return nil, err
	}
	cfg, err := tenantAdmin(ctx, c, root, ns, v)
	if err != nil {
		return nil, err
	}
	kubectl, err := tools.Path(ctx, tools.Kubectl, c.Log())
	if err != nil {
		return nil, fmt.Errorf("tenant %s: %w", ns, err)
	}
	adminKubeconfig := filepath.Join(c.Dir, "kubeconfig-"+TenantAdminUser+"-"+ns)
	if err := tenantsetup.ImpersonatingKubeconfig(filepath.Join(c.Dir, "kubeconfig"), adminKubeconfig, TenantAdminUser); err != nil {
		return nil, fmt.Errorf("tenant %s: %w", ns, err)
	}
	// The API server is reachable from the cluster's network namespace only.
	out, err := tenantsetup.RunScript(ctx, root, kubectl, adminKubeconfig, ns, v.SelfHosted(), "nsenter", "--net="+c.NetnsPath(), "--")
	if err != nil {
		return nil, fmt.Errorf("tenant %s: %w", ns, err)
	}
	fmt.Fprint(c.Log(), out)
	admin, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("tenant %s: %w", ns, err)
	}
	tn := &Tenant{NS: ns, Variant: v, c: c, AdminKubeconfig: adminKubeconfig}
	sink, err := c.ServeTLS(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		tn.mu.Lock()
		tn.posts = append(tn.posts, string(b))
		tn.mu.Unlock()
		_, _ = w.Write([]byte("ok"))
	}))
	if err != nil {
		return nil, err
	}
	tn.SlackURL = "https://" + sink + "/services/T000/B000/XXXX"
	if _, err := admin.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "release-to-prod-slack-webhook"}, // slack_webhook_secret's default
		StringData: map[string]string{"url": tn.SlackURL},
	}, metav1.CreateOptions{}); err != nil {
		return nil, fmt.Errorf("tenant %s: Slack webhook Secret: %w", ns, err)
	}
	if tn.Tekton, err = tektonclient.NewForConfig(cfg); err != nil {
		return nil, fmt.Errorf("tenant %s: %w", ns, err)
	}
	return tn, nil
}

// Posts returns what the tenant's Slack sink has been sent so far.
func (tn *Tenant) Posts() []string {
	tn.mu.Lock()
	defer tn.mu.Unlock()
	return slices.Clone(tn.posts)
}

// History returns the tenant's release history: the ConfigMap's data and its entries, newest
// first.
func (tn *Tenant) History(ctx context.Context) (map[string]string, []history.Entry, error) {
	cm, err := tn.c.Client.CoreV1().ConfigMaps(tn.NS).Get(ctx, "release-history", metav1.GetOptions{})
	if err != nil {
		return nil, nil, fmt.Errorf("release history of %s: %w", tn.NS, err)
	}
	entries, err := history.Decode(cm.Data[history.Key])
	if err != nil {
		return cm.Data, nil, fmt.Errorf("release history of %s: %w", tn.NS, err)
	}
	return cm.Data, entries, nil
}

// tenantAdmin installs Konflux's own ClusterRoles of variant v (read beside the checkout at
// root), binds TenantAdminUser to the admin role in namespace by RoleBindings, as Konflux binds
// a tenant's admins, and returns a rest.Config acting as that user: the test then acts with a
// tenant admin's rights only. The variants' roles share two names (the bot roles) with the same
// rules, so tenants of both variants live on one cluster.
func tenantAdmin(ctx context.Context, c *cluster.Cluster, root, namespace string, v tenantsetup.Variant) (*rest.Config, error) {
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
