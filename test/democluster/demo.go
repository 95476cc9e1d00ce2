package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/release-to-prod/release-to-prod/test/cluster"
	"github.com/release-to-prod/release-to-prod/test/cluster/host"
	"github.com/release-to-prod/release-to-prod/test/cluster/world"
	"github.com/release-to-prod/release-to-prod/test/tools"
)

const (
	tenantNS = "aap-aa-tenant"
	sha      = "9fceb02d0ae598e95dc970b74767f19372d61af8"
)

func say(format string, args ...any) { fmt.Printf("\n\033[1m==> "+format+"\033[0m\n", args...) }

// demo is what run has started, kept for its later phases and its teardown.
type demo struct {
	c     *cluster.Cluster
	w     *world.ReleaseWorld
	tn    *world.Tenant
	watch *cluster.PodWatch
	begin time.Time // the cluster's start, after any wait for another run's cluster
}

func run(ctx context.Context, keep bool) (err error) {
	root, err := tools.Root()
	if err != nil {
		return err
	}
	d := &demo{}
	if err := d.startCluster(ctx); err != nil {
		return err
	}
	defer func() {
		if serr := d.stopCluster(ctx); serr != nil {
			err = errors.Join(err, serr)
		}
	}()
	if err := d.buildWorld(ctx, root); err != nil {
		return err
	}
	defer d.w.Stop()
	if err := d.seed(ctx); err != nil {
		return err
	}
	defer d.watch.Stop()
	r1, r2, err := d.runTwice(ctx)
	if err != nil {
		return err
	}
	say("done: one Release for commit %s after two runs", sha[:12])
	fmt.Printf("   cluster start %s · step images %s · run 1 %s · run 2 %s (PipelineRun creation → end of report)\n",
		startTime(d.c).Round(100*time.Millisecond), d.w.ImagesPushed.Round(100*time.Millisecond),
		r1.Wall.Round(100*time.Millisecond), r2.Wall.Round(100*time.Millisecond))
	if keep {
		d.watch.Stop()
		return hold(ctx, d.c)
	}
	return nil
}

// startCluster waits for the host and starts the single-node cluster.
func (d *demo) startCluster(ctx context.Context) error {
	say("starting a single-node Kubernetes cluster in a network namespace of its own: etcd, kube-apiserver, kube-controller-manager, kube-scheduler, containerd, kubelet, Tekton controller")
	if err := host.WaitForHost(ctx, os.Stdout); err != nil {
		return err
	}
	d.begin = time.Now()
	c, err := cluster.Start(ctx, cluster.Options{Mirrors: []string{"quay.io"}, Log: os.Stdout})
	if err != nil {
		return err
	}
	d.c = c
	return nil
}

// stopCluster stops the cluster, gives the host back and says how long the demo took.
func (d *demo) stopCluster(ctx context.Context) error {
	say("stopping the cluster and restoring the host")
	if err := d.c.Stop(); err != nil {
		return err
	}
	if ctx.Err() != nil {
		fmt.Println("   stopped (interrupted)")
		return nil
	}
	fmt.Printf("   stopped; the demo took %s from the cluster's start\n", time.Since(d.begin).Round(time.Second))
	return nil
}

// buildWorld builds the step images from the checkout at root and pushes them to the
// cluster's registry, with the Quay API and release-service stand-ins.
func (d *demo) buildWorld(ctx context.Context, root string) error {
	say("building the step images from this checkout (linux, the node's architecture) and pushing them to the cluster's registry, where the node pulls them as quay.io/release-to-prod/<step>:0.1.0")
	w, err := world.New(ctx, d.c, root)
	if err != nil {
		return err
	}
	d.w = w
	fmt.Printf("   built and pushed in %s; Quay API stand-in at %s; release-service stand-in marks each Release released after 1 s\n",
		w.ImagesPushed.Round(time.Millisecond), w.QuayURL)
	return nil
}

// seed gives the tenant its Konflux world and starts watching its TaskRuns.
func (d *demo) seed(ctx context.Context) error {
	say("seeding tenant %s (restricted pod security, the project's RBAC): Application, Component, image for commit %s, Snapshot (tests passed), ReleasePlan; Quay reports a clean scan", tenantNS, sha[:12])
	tn, k, err := d.w.SeedTenant(ctx, tenantNS, sha)
	if err != nil {
		return err
	}
	d.tn = tn
	fmt.Printf("   image %s:%s → %s\n", k.Repository, sha, k.Digest)
	watch, err := d.c.WatchTaskRuns(tenantNS, os.Stdout)
	if err != nil {
		return err
	}
	d.watch = watch
	return nil
}

// runTwice runs the Pipeline for the commit twice as the tenant user: the first run releases
// it, the second must find it released.
func (d *demo) runTwice(ctx context.Context) (r1, r2 *world.Run, err error) {
	say("run 1: a PipelineRun of release-to-prod for %s, created as the tenant user", sha[:12])
	r1, err = d.tn.Run(ctx, d.w.Pipeline.Spec.DeepCopy(), d.w.Params(d.tn, sha), 10*time.Minute, os.Stdout)
	if err != nil {
		return nil, nil, fmt.Errorf("run 1: %w", err)
	}
	if err := expect(ctx, d.w, d.tn, r1, "Succeeded", true); err != nil {
		return nil, nil, fmt.Errorf("run 1 should release: %w", err)
	}

	say("run 2: the same commit again — it must not be released twice")
	r2, err = d.tn.Run(ctx, d.w.Pipeline.Spec.DeepCopy(), d.w.Params(d.tn, sha), 10*time.Minute, os.Stdout)
	if err != nil {
		return nil, nil, fmt.Errorf("run 2: %w", err)
	}
	if err := expect(ctx, d.w, d.tn, r2, "AlreadyReleased", false); err != nil {
		return nil, nil, fmt.Errorf("run 2 should pass as already released: %w", err)
	}
	return r1, r2, nil
}

// expect checks how a run ended — the PipelineRun succeeded, report ran, the newest history
// entry has status, one Release in the namespace, create-release ran or not as released says —
// and shows the history entry and the Slack post.
func expect(ctx context.Context, w *world.ReleaseWorld, tn *world.Tenant, r *world.Run, status string, released bool) error {
	var errs []error
	if r.Cond.Status != corev1.ConditionTrue {
		errs = append(errs, fmt.Errorf("PipelineRun %s ended %s: %s", r.PR.Name, r.Cond.Reason, r.Cond.Message))
		showFailedSteps(r)
	}
	if !r.Reported() {
		errs = append(errs, errors.New("the finally task report did not succeed"))
	}
	if ran := r.TaskRun("create-release") != nil; ran != released {
		errs = append(errs, fmt.Errorf("create-release ran: %t, want %t", ran, released))
	}
	n, err := w.Releases(ctx, tn)
	if err != nil {
		errs = append(errs, err)
	} else if n != 1 {
		errs = append(errs, fmt.Errorf("%d Releases in %s, want 1", n, tn.NS))
	}
	_, entries, err := tn.History(ctx)
	if err != nil {
		errs = append(errs, err)
	} else if len(entries) == 0 {
		errs = append(errs, errors.New("no history entry"))
	} else {
		b, _ := json.MarshalIndent(entries[0], "   ", "  ")
		fmt.Printf("   history entry (ConfigMap release-history, newest of %d):\n   %s\n", len(entries), b)
		if entries[0].Status != status {
			errs = append(errs, fmt.Errorf("history status %q, want %q", entries[0].Status, status))
		}
	}
	if len(r.Posts) != 1 {
		errs = append(errs, fmt.Errorf("%d Slack posts, want 1", len(r.Posts)))
	}
	for _, p := range r.Posts {
		fmt.Printf("   Slack post:\n")
		for _, line := range slackText(p) {
			fmt.Printf("     │ %s\n", strings.ReplaceAll(line, "\n", "\n     │ "))
		}
	}
	return errors.Join(errs...)
}

// slackText returns the texts of a Block Kit message in order, each once.
func slackText(post string) []string {
	var v any
	if err := json.Unmarshal([]byte(post), &v); err != nil {
		return []string{post}
	}
	var out []string
	seen := map[string]bool{}
	var walk func(any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if s, ok := v["text"].(string); ok && !seen[s] {
				seen[s] = true
				out = append(out, s)
			}
			for _, k := range []string{"text", "blocks", "elements", "fields", "attachments"} {
				if _, isString := v[k].(string); !isString {
					walk(v[k])
				}
			}
		case []any:
			for _, e := range v {
				walk(e)
			}
		}
	}
	walk(v)
	return out
}

// showFailedSteps prints the termination message of every step that did not exit 0.
func showFailedSteps(r *world.Run) {
	for _, tr := range r.TaskRuns {
		for _, s := range tr.Status.Steps {
			if s.Terminated != nil && s.Terminated.ExitCode != 0 {
				fmt.Printf("   %s/%s: exit %d %s: %s\n", tr.Labels["tekton.dev/pipelineTask"], s.Name, s.Terminated.ExitCode,
					s.Terminated.Reason, s.Terminated.Message)
			}
		}
	}
}

// hold keeps the cluster up until Ctrl-C and says how to look at it.
func hold(ctx context.Context, c *cluster.Cluster) error {
	kubectl, err := tools.Path(ctx, tools.Kubectl, os.Stdout)
	if err != nil {
		return err
	}
	netns, kubeconfig := filepath.Join(c.Dir, "netns"), filepath.Join(c.Dir, "kubeconfig")
	say("KEEP=1: the cluster stays up until Ctrl-C. The API is reachable only inside its network namespace; as root:")
	fmt.Printf("   nsenter --net=%s %s --kubeconfig %s get pods -A\n", netns, kubectl, kubeconfig)
	fmt.Printf("   nsenter --net=%s %s --kubeconfig %s -n %s get pipelineruns,taskruns,releases\n", netns, kubectl, kubeconfig, tenantNS)
	fmt.Printf("   nsenter --net=%s %s --kubeconfig %s -n %s logs <pod> -c step-check-image\n", netns, kubectl, kubeconfig, tenantNS)
	fmt.Printf("   daemons' logs: %s\n", filepath.Join(c.Dir, "logs"))
	<-ctx.Done()
	return nil
}

// startTime is how long Start took in all.
func startTime(c *cluster.Cluster) time.Duration {
	for _, p := range c.Phases {
		if p.Name == "total" {
			return p.Duration
		}
	}
	return 0
}
