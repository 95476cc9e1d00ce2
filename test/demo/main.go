// Command demo runs the release-to-prod Pipeline end to end against the embedded sandbox, the
// way `make demo` shows it: it sets the stage (package stage: the real components, a seeded
// tenant, a stand-in for the release-service), runs the Pipeline through the local runner
// (bin/tkn-local, Tekton's own scheduling and substitution code), shows the Release it created,
// runs it again to show the commit is not released twice, and stops everything.
package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/release-to-prod/release-to-prod/test/sandbox"
	"github.com/release-to-prod/release-to-prod/test/stage"
	"github.com/release-to-prod/release-to-prod/test/tools"
)

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

	say("starting the sandbox: kube-apiserver + etcd (Konflux CRDs), OCI registry + Quay API stand-in, Alertmanager, Slack sink")
	say("seeding tenant aap-aa-tenant: Application, Component, multi-arch image for %s, Snapshot (tests passed), ReleasePlan", stage.SHA[:12])
	w, err := stage.Start(ctx, root, dir, os.Stdout)
	if err != nil {
		return err
	}
	defer func() {
		say("stopping everything")
		w.Stop()
	}()
	s, tenant := w.Sandbox, w.Tenant
	fmt.Printf("   API server %s, registry %s, Alertmanager %s, Slack sink %s\n", s.Config.Host, s.Registry.URL, w.Alertmanager.URL, w.Slack.URL)
	fmt.Printf("   image %s:%s → %s\n", tenant.Repository, stage.SHA, tenant.Digest)

	args := w.PipelineArgs()
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
	list, err := s.Dynamic.Resource(stage.Releases).Namespace(tenant.Namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	if len(list.Items) != 1 {
		return fmt.Errorf("want exactly 1 Release after two runs, found %d", len(list.Items))
	}
	say("done: one Release for commit %s after two runs", stage.SHA[:12])
	return nil
}

func tkn(ctx context.Context, root string, args []string) error {
	cmd := exec.CommandContext(ctx, filepath.Join(root, "bin", "tkn-local"), args...)
	cmd.Dir = root
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	return cmd.Run()
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
