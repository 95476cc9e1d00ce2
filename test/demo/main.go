// Command demo runs the release-to-prod Pipeline end to end against the embedded sandbox, the
// way `make demo` shows it: it starts the real components (kube-apiserver + etcd with the
// Konflux CRDs, an OCI registry with the Quay API stand-in, Alertmanager, a Slack sink), seeds a
// tenant like aap-aa-tenant with an image built for a commit, runs the Pipeline through the
// local runner (bin/tkn-local, Tekton's own scheduling and substitution code), shows the
// Release it created, runs it again to show the commit is not released twice, and stops
// everything.
//
// No release-service runs in the sandbox: a stand-in in this program plays its part, marking
// each new Release as released after a moment, as the managed pipeline would.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/release-to-prod/release-to-prod/test/sandbox"
	"github.com/release-to-prod/release-to-prod/test/tools"
)

// The commit the demo releases.
const sha = "3f786850e387550fdab836ed7e6dc881de23001b"

var releases = schema.GroupVersionResource{Group: "appstudio.redhat.com", Version: "v1alpha1", Resource: "releases"}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	err := run(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func say(format string, args ...any) { fmt.Printf("\n\033[1m==> "+format+"\033[0m\n", args...) }

func run(ctx context.Context) error {
	root, err := tools.Root()
	if err != nil {
		return err
	}
	for _, b := range []string{"tkn-local", "check-image", "create-release"} {
		if _, err := os.Stat(filepath.Join(root, "bin", b)); err != nil {
			return fmt.Errorf("bin/%s is missing: run `make demo` (it builds the steps first)", b)
		}
	}
	dir, err := os.MkdirTemp("", "release-to-prod-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	say("starting the sandbox: kube-apiserver + etcd (Konflux CRDs), OCI registry + Quay API stand-in")
	s, err := sandbox.Start(ctx, sandbox.Options{Dir: filepath.Join(dir, "sandbox")})
	if err != nil {
		return err
	}
	defer func() {
		say("stopping everything")
		if err := s.Stop(); err != nil {
			fmt.Println("  ", err)
		}
	}()
	if err := os.MkdirAll(filepath.Join(dir, "alertmanager"), 0o755); err != nil {
		return err
	}
	am, err := sandbox.RunAlertmanager(ctx, filepath.Join(dir, "alertmanager"), os.Stdout)
	if err != nil {
		return err
	}
	defer am.Stop()
	slack := httptest.NewServer(slackSink())
	defer slack.Close()
	fmt.Printf("   API server %s, registry %s, Alertmanager %s, Slack sink %s\n", s.Config.Host, s.Registry.URL, am.URL, slack.URL)

	say("seeding tenant aap-aa-tenant: Application, Component, image for %s, Snapshot (tests passed), ReleasePlan", sha[:12])
	tenant, err := s.SeedTenant(ctx, sandbox.TenantOptions{SHA: sha, Platforms: []string{"linux/amd64", "linux/arm64"}})
	if err != nil {
		return err
	}
	fmt.Printf("   image %s:%s → %s\n", tenant.Repository, sha, tenant.Digest)
	quayRepo := strings.TrimPrefix(tenant.Repository, s.Registry.Host+"/")
	for _, d := range append([]string{tenant.Digest}, values(tenant.Platforms)...) {
		s.Registry.Quay.SetSecurity(quayRepo, d, sandbox.Reply{Status: 200, Body: scanReport})
	}
	checkout, err := appInterface(root, dir)
	if err != nil {
		return err
	}
	webhook := filepath.Join(dir, "slack")
	if err := os.MkdirAll(webhook, 0o700); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(webhook, "url"), []byte(slack.URL+"/services/T000/B000/demo"), 0o600); err != nil {
		return err
	}

	stopRS := releaseService(ctx, s, tenant.Namespace)
	defer stopRS()

	args := []string{"pipeline", "start", "release-to-prod",
		"-p", "commit_sha=" + sha,
		"-p", "alertmanager_url=" + am.URL,
		"-p", "quay_api_url=" + s.Registry.URL,
		"-p", "saas_file=data/services/aa/cicd/saas.yml",
		"-p", "progress_interval=1s",
		"-w", "name=app-interface,dir=" + checkout,
		"-w", "name=slack-webhook,secret=" + webhook,
		"--kubeconfig", s.Kubeconfig,
	}
	say("run 1: tkn-local %s", strings.Join(args, " "))
	if err := tkn(ctx, root, args); err != nil {
		return fmt.Errorf("the first run should release: %w", err)
	}

	say("the Release in the sandbox")
	if err := showReleases(ctx, s, tenant.Namespace); err != nil {
		return err
	}

	say("run 2: the same commit again — it must not be released twice")
	if err := tkn(ctx, root, args); err != nil {
		return fmt.Errorf("the second run should pass as already released: %w", err)
	}
	list, err := s.Dynamic.Resource(releases).Namespace(tenant.Namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	if len(list.Items) != 1 {
		return fmt.Errorf("want exactly 1 Release after two runs, found %d", len(list.Items))
	}
	say("done: one Release for commit %s after two runs", sha[:12])
	return nil
}

func values(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

func tkn(ctx context.Context, root string, args []string) error {
	cmd := exec.CommandContext(ctx, filepath.Join(root, "bin", "tkn-local"), args...)
	cmd.Dir = root
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	return cmd.Run()
}

// appInterface copies the fixture app-interface checkout and points its production target at
// the demo commit (in a real release the promotion MR does that).
func appInterface(root, dir string) (string, error) {
	src := filepath.Join(root, "pkg", "saasfile", "testdata", "app-interface")
	dst := filepath.Join(dir, "app-interface")
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	return dst, err
}

// releaseService plays Konflux's release-service: every new Release goes Progressing, then
// Succeeded a moment later.
func releaseService(ctx context.Context, s *sandbox.Sandbox, ns string) func() {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		seen := map[string]time.Time{}
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			list, err := s.Dynamic.Resource(releases).Namespace(ns).List(ctx, metav1.ListOptions{})
			if err != nil {
				continue
			}
			for _, r := range list.Items {
				conds, _, _ := unstructured.NestedSlice(r.Object, "status", "conditions")
				first, ok := seen[r.GetName()]
				switch {
				case !ok && len(conds) == 0:
					seen[r.GetName()] = time.Now()
					_ = setReleased(ctx, s, ns, r.GetName(), "False", "Progressing")
				case ok && time.Since(first) > 3*time.Second && !released(conds):
					_ = setReleased(ctx, s, ns, r.GetName(), "True", "Succeeded")
				}
			}
		}
	}()
	return func() { cancel(); <-done }
}

func released(conds []any) bool {
	for _, c := range conds {
		if m, ok := c.(map[string]any); ok && m["type"] == "Released" && m["status"] == "True" {
			return true
		}
	}
	return false
}

func setReleased(ctx context.Context, s *sandbox.Sandbox, ns, name, status, reason string) error {
	now := time.Now().UTC().Format(time.RFC3339)
	st := map[string]any{
		"startTime": now,
		"conditions": []any{map[string]any{"type": "Released", "status": status, "reason": reason,
			"message": "managed pipeline " + strings.ToLower(reason) + " (release-service stand-in)", "lastTransitionTime": now}},
	}
	if status == "True" {
		st["completionTime"] = now
	}
	return s.SetStatus(ctx, releases, ns, name, st)
}

func showReleases(ctx context.Context, s *sandbox.Sandbox, ns string) error {
	kubectl, err := tools.Path(ctx, tools.Kubectl, os.Stdout)
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, kubectl, "--kubeconfig", s.Kubeconfig, "-n", ns, "get", "releases",
		"-o", `custom-columns=NAME:.metadata.name,SNAPSHOT:.spec.snapshot,RELEASE PLAN:.spec.releasePlan,RELEASED:.status.conditions[?(@.type=="Released")].reason,COMMIT:.metadata.labels.pac\.test\.appstudio\.openshift\.io/sha`)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	return cmd.Run()
}

// slackSink prints what the notify step posts, as the channel would show it.
func slackSink() http.Handler {
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
		fmt.Printf("   [slack] %s\n", msg.Text)
		_, _ = w.Write([]byte("ok"))
	})
}

// scanReport is a Quay security report with a few fixable medium and low findings.
const scanReport = `{"status":"scanned","data":{"Layer":{"Name":"sha256:demo","ParentName":"","NamespaceName":"rhel:9","IndexedByVersion":4,"Features":[
{"Name":"openssl-libs","VersionFormat":"rpm","NamespaceName":"rhel:9","AddedBy":"sha256:demo","Version":"1:3.0.7-24.el9","Vulnerabilities":[
{"Severity":"Medium","NamespaceName":"rhel:9","Link":"https://access.redhat.com/security/cve/CVE-2024-0727","FixedBy":"1:3.0.7-25.el9","Description":"openssl: denial of service via null dereference","Name":"CVE-2024-0727","Metadata":{}}]},
{"Name":"zlib","VersionFormat":"rpm","NamespaceName":"rhel:9","AddedBy":"sha256:demo","Version":"1.2.11-40.el9","Vulnerabilities":[
{"Severity":"Low","NamespaceName":"rhel:9","Link":"https://access.redhat.com/security/cve/CVE-2023-45853","FixedBy":"","Description":"zlib: integer overflow in minizip","Name":"CVE-2023-45853","Metadata":{}}]}]}}}`
