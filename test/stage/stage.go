// Package stage sets up the world the release-to-prod Pipeline runs against on this machine: the
// sandbox (kube-apiserver + etcd with the Konflux CRDs, an OCI registry with the Quay API
// stand-in), a real Alertmanager, a Slack sink, a seeded tenant with a multi-arch image and its
// Quay scan, an app-interface checkout that deploys the commit, and a stand-in for Konflux's
// release-service that marks each new Release released a moment after it is created. The demo
// and the benchmarks use it; it starts everything itself and Stop stops it.
package stage

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/release-to-prod/release-to-prod/test/sandbox"
)

// SHA is the commit the stage releases (the app-interface fixture's production ref).
const SHA = "3f786850e387550fdab836ed7e6dc881de23001b"

// Releases is the Konflux Release resource.
var Releases = sandbox.Releases

// World is a running stage.
type World struct {
	Sandbox      *sandbox.Sandbox
	Alertmanager *sandbox.Alertmanager
	Slack        *httptest.Server
	Tenant       *sandbox.Tenant
	Checkout     string // app-interface checkout
	stopRS       func()
}

// Start sets the stage up in dir; root is the repository root. Slack messages are printed to
// out as the channel would show them.
func Start(ctx context.Context, root, dir string, out io.Writer) (w *World, err error) {
	w = &World{}
	defer func() {
		if err != nil {
			w.Stop()
		}
	}()
	if w.Sandbox, err = sandbox.Start(ctx, sandbox.Options{Dir: filepath.Join(dir, "sandbox"), Log: out}); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(dir, "alertmanager"), 0o755); err != nil {
		return nil, err
	}
	if w.Alertmanager, err = sandbox.RunAlertmanager(ctx, filepath.Join(dir, "alertmanager"), out); err != nil {
		return nil, err
	}
	w.Slack = httptest.NewServer(slackSink(out))
	if w.Tenant, err = w.Sandbox.SeedTenant(ctx, sandbox.TenantOptions{SHA: SHA, Platforms: []string{"linux/amd64", "linux/arm64"}}); err != nil {
		return nil, err
	}
	quayRepo := strings.TrimPrefix(w.Tenant.Repository, w.Sandbox.Registry.Host+"/")
	for _, d := range append([]string{w.Tenant.Digest}, values(w.Tenant.Platforms)...) {
		w.Sandbox.Registry.Quay.SetSecurity(quayRepo, d, sandbox.Reply{Status: 200, Body: scanReport})
	}
	if w.Checkout, err = appInterface(root, dir); err != nil {
		return nil, err
	}
	// The Slack Secret under the name the Pipeline mounts by default (slack_webhook_secret).
	hook := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Secret", "metadata": map[string]any{"name": "release-to-prod-slack-webhook"},
		"stringData": map[string]any{"url": w.Slack.URL + "/services/T000/B000/stage"},
	}}
	secrets := w.Sandbox.Dynamic.Resource(schema.GroupVersionResource{Version: "v1", Resource: "secrets"}).Namespace(w.Tenant.Namespace)
	if _, err := secrets.Create(ctx, hook, metav1.CreateOptions{}); err != nil {
		return nil, fmt.Errorf("slack webhook Secret: %w", err)
	}
	// The demo's pace: Progressing after a second, released a second later.
	w.stopRS = w.Sandbox.StartReleaseService(time.Second).Stop
	return w, nil
}

// PipelineArgs are the tkn-local arguments that run release-to-prod against the stage.
func (w *World) PipelineArgs() []string {
	return []string{"pipeline", "start", "release-to-prod",
		"-p", "commit_sha=" + SHA,
		"-p", "alertmanager_url=" + w.Alertmanager.URL,
		"-p", "quay_api_url=" + w.Sandbox.Registry.URL,
		"-p", "saas_file=data/services/aa/cicd/saas.yml",
		"-p", "progress_interval=1s",
		"-w", "name=app-interface,dir=" + w.Checkout,
		"--kubeconfig", w.Sandbox.Kubeconfig,
	}
}

// Stop stops everything Start started.
func (w *World) Stop() {
	if w.stopRS != nil {
		w.stopRS()
	}
	if w.Slack != nil {
		w.Slack.Close()
	}
	if w.Alertmanager != nil {
		w.Alertmanager.Stop()
	}
	if w.Sandbox != nil {
		_ = w.Sandbox.Stop()
	}
}

func values(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

// appInterface copies the fixture app-interface checkout and points its production target at
// the demo commit (in a real release the promotion MR does that).
func appInterface(root, dir string) (string, error) {
	dst := filepath.Join(dir, "app-interface")
	return dst, os.CopyFS(dst, os.DirFS(filepath.Join(root, "pkg", "gates", "appinterface", "testdata", "app-interface")))
}

// slackSink prints what the notify step posts, as the channel would show it.
func slackSink(out io.Writer) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		var msg struct {
			Text string `json:"text"`
		}
		if err == nil {
			err = json.Unmarshal(b, &msg)
		}
		if err != nil {
			http.Error(w, "invalid_payload", http.StatusBadRequest)
			return
		}
		fmt.Fprintf(out, "   [slack] %s\n", msg.Text)
		_, _ = w.Write([]byte("ok"))
	})
}

// scanReport is a Quay security report with a few fixable medium and low findings.
const scanReport = `{"status":"scanned","data":{"Layer":{"Name":"sha256:demo","ParentName":"","NamespaceName":"rhel:9","IndexedByVersion":4,"Features":[
{"Name":"openssl-libs","VersionFormat":"rpm","NamespaceName":"rhel:9","AddedBy":"sha256:demo","Version":"1:3.0.7-24.el9","Vulnerabilities":[
{"Severity":"Medium","NamespaceName":"rhel:9","Link":"https://access.redhat.com/security/cve/CVE-2024-0727","FixedBy":"1:3.0.7-25.el9","Description":"openssl: denial of service via null dereference","Name":"CVE-2024-0727","Metadata":{}}]},
{"Name":"zlib","VersionFormat":"rpm","NamespaceName":"rhel:9","AddedBy":"sha256:demo","Version":"1.2.11-40.el9","Vulnerabilities":[
{"Severity":"Low","NamespaceName":"rhel:9","Link":"https://access.redhat.com/security/cve/CVE-2023-45853","FixedBy":"","Description":"zlib: integer overflow in minizip","Name":"CVE-2023-45853","Metadata":{}}]}]}}}`
