package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/go-logr/logr"
	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	crlog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/release-to-prod/release-to-prod/pkg/clients/konflux"
	"github.com/release-to-prod/release-to-prod/test/cluster"
	"github.com/release-to-prod/release-to-prod/test/cluster/host"
	"github.com/release-to-prod/release-to-prod/test/cluster/world"
	"github.com/release-to-prod/release-to-prod/test/sandbox"
)

// nodeRun is one PipelineRun the cluster section measures.
type nodeRun struct {
	label, ns, status string
	sha               string        // the commit released; sha when empty
	target            time.Duration // the wall time the issue asks for; 0: none
	// flags are entries of Tekton's feature-flags ConfigMap set for this run only: a lever of
	// whoever runs Tekton (not a tenant's), measured against the same run without it.
	flags map[string]string
	kv    []string // params over the release defaults
	scale bool     // the tenant holds noise objects and Quay's report is big, as in TestStepMemory
}

// noiseObjects is how many Snapshots and Releases of other commits the dry run's tenant holds:
// TestStepMemory's figure, so that the node's figures compare with the local runner's.
const noiseObjects = 10_000

// otherSHA and thirdSHA are the commits the warm-node releases release.
const (
	otherSHA = "c2c3d4e5f60718293a4b5c6d7e8f901234567890"
	thirdSHA = "d3d4e5f60718293a4b5c6d7e8f90123456789012"
)

// clusterSection measures what only a real node shows, on a cluster started fresh for it (a
// cold node: no image pulled yet): each PipelineRun's wall time, each TaskRun's pod start, each
// step's peak memory as the kernel counts it against the step's limit, and the bytes the node
// pulls. Five runs: a release, the same commit again (already released), a release of another
// commit in a second tenant (the node warm: every image pulled), the same in a third tenant with
// Tekton's first step no longer waiting for the ready annotation, and a dry run in a fourth tenant
// among 10,000 Snapshots and 10,000 Releases with a 1.5 MB Quay report, as TestStepMemory's
// (make bench ONLY=memory) through the local runner.
func clusterSection(ctx context.Context, rep *Report, _ *sandbox.Sandbox, _ *sandbox.Tenant, _ int) error {
	const section = "cluster"
	if os.Geteuid() != 0 {
		rep.add(section, "real node", "not measured: starting a node needs root (network namespace, mounts, cgroups)", "", nil)
		return nil
	}
	root, err := os.Getwd() // run chdirs to the checkout
	if err != nil {
		return err
	}
	// controller-runtime (whose envtest installs the CRDs) prints a stack trace when nothing
	// took its log; it has nothing to say here.
	crlog.SetLogger(logr.Discard())
	if err := host.WaitForHost(ctx, os.Stdout); err != nil {
		return err
	}
	fmt.Println("bench: cluster: starting a fresh single-node cluster")
	pulls := cluster.NewPullCounter()
	c, err := cluster.Start(ctx, cluster.Options{Mirrors: []string{"quay.io"}, WrapRegistry: pulls.Wrap})
	if err != nil {
		return err
	}
	clusterUp.Store(true)
	defer func() {
		if err := c.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "bench: cluster:", err)
		}
		clusterUp.Store(false)
	}()
	for _, p := range c.Phases {
		if p.Name == "total" {
			rep.add(section, "cluster start (tools cached; etcd → node Ready → Tekton controller up)", secs(p.Duration), "", nil)
		}
	}
	w, err := world.New(ctx, c, root)
	if err != nil {
		return err
	}
	defer w.Stop()
	rep.add(section, "step images built (node's platform) and pushed", secs(w.ImagesPushed), "", nil)

	// Started before the first pod so that no container's cgroup comes and goes unseen; often
	// enough to read most steps' cgroups once more between the step's end and the cgroup's
	// removal (ContainerMemory.Ended).
	mem, err := c.SampleMemory(20 * time.Millisecond)
	if err != nil {
		return err
	}
	defer mem.Stop()
	pulls.Take() // the pushes: none is the node's

	tenants, err := measureRuns(ctx, rep, c, w, pulls, mem)
	if err != nil {
		return err
	}
	return stepMemory(ctx, rep, c, w, mem.Stop(), slices.Sorted(maps.Keys(tenants)))
}

// measureRuns measures the section's runs in order, each in its tenant, seeded (and filled with
// noise objects, for the scale run) before its first run; it returns the tenants by namespace.
func measureRuns(ctx context.Context, rep *Report, c *cluster.Cluster, w *world.ReleaseWorld,
	pulls *cluster.PullCounter, mem *cluster.MemorySampler) (map[string]*world.Tenant, error) {
	var err error
	tenants := map[string]*world.Tenant{}
	for _, run := range []nodeRun{
		{label: "release run", ns: "bench-release", status: "Succeeded", target: 15 * time.Second},
		{label: "already-released run", ns: "bench-release", status: "AlreadyReleased"},
		// Before the dry run: its tenant's set-up stops the release-service stand-in.
		{label: "release run, warm node (another tenant and commit)", ns: "bench-warm", status: "Succeeded", sha: otherSHA, target: 10 * time.Second},
		// Tekton's default (true) holds each pod's first step until the controller has seen the
		// pod running and annotated it ready, and the kubelet has written the annotation into the
		// pod's downward API file, which Tekton's entrypoint polls once a second.
		{label: "release run, warm node, Tekton's running-in-environment-with-injected-sidecars false", ns: "bench-warm-ready", status: "Succeeded", sha: thirdSHA,
			target: 10 * time.Second, flags: map[string]string{"running-in-environment-with-injected-sidecars": "false"}},
		{label: "dry run among 10,000 Snapshots + Releases", ns: "bench-scale", status: "DryRun", kv: []string{"dry_run", "true"}, scale: true},
	} {
		if run.sha == "" {
			run.sha = sha
		}
		tn := tenants[run.ns]
		if tn == nil {
			var k *world.Konflux
			if tn, k, err = w.SeedTenant(ctx, run.ns, run.sha); err != nil {
				return nil, err
			}
			tenants[run.ns] = tn
			if run.scale {
				if err := scaleTenant(ctx, c, w, tn, k); err != nil {
					return nil, err
				}
			}
		}
		if err := withFeatureFlags(ctx, c, run.flags, func() error { return measureRun(ctx, rep, c, w, tn, pulls, mem, run) }); err != nil {
			return nil, err
		}
	}
	return tenants, nil
}

// withFeatureFlags sets entries of Tekton's feature-flags ConfigMap, runs fn, and puts the
// entries back as they were.
func withFeatureFlags(ctx context.Context, c *cluster.Cluster, flags map[string]string, fn func() error) error {
	if len(flags) == 0 {
		return fn()
	}
	cms := c.Client.CoreV1().ConfigMaps(cluster.TektonNamespace)
	set := func(values map[string]string) (map[string]string, error) {
		cm, err := cms.Get(ctx, "feature-flags", metav1.GetOptions{})
		if err != nil {
			return nil, fmt.Errorf("tekton feature-flags: %w", err)
		}
		was := map[string]string{}
		for k, v := range values {
			was[k] = cm.Data[k]
			if v == "" {
				delete(cm.Data, k)
			} else {
				cm.Data[k] = v
			}
		}
		if _, err := cms.Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
			return nil, fmt.Errorf("tekton feature-flags: %w", err)
		}
		// The controller's ConfigMap watch applies it to the TaskRuns it reconciles next; no
		// status says when it has, so give the watch time.
		time.Sleep(3 * time.Second)
		return was, nil
	}
	was, err := set(flags)
	if err != nil {
		return err
	}
	runErr := fn()
	if _, err := set(was); err != nil && runErr == nil {
		runErr = err
	}
	return runErr
}

// scaleTenant fills tenant tn as TestStepMemory fills its scale tenant: Snapshots and Releases
// of other commits, and a Quay report of 1,000 packages with 4 vulnerabilities each (none
// critical, about 1.5 MB of JSON). The release-service stand-in stops first: it would take up
// every noise Release, and a dry run needs none.
func scaleTenant(ctx context.Context, c *cluster.Cluster, w *world.ReleaseWorld, tn *world.Tenant, k *world.Konflux) error {
	w.Stop()
	w.Quay.SetSecurity(k.QuayRepo, k.Digest, sandbox.LargeQuayReport())
	start := time.Now()
	s := &sandbox.Sandbox{Dynamic: c.Dynamic, Config: c.Config}
	other := func(i int) string { return fmt.Sprintf("%040x", i+1) }
	releasePlan := world.Application + "-prod"
	if err := s.CreateMany(ctx, sandbox.Snapshots, tn.NS, noiseObjects, 16, func(i int) map[string]any {
		return map[string]any{
			"metadata": map[string]any{"name": fmt.Sprintf("noise-snap-%d", i), "labels": map[string]any{
				konflux.LabelComponent: world.Component, konflux.LabelSHA: other(i), konflux.LabelEventType: "push", konflux.LabelApplication: world.Application}},
			"spec": map[string]any{"application": world.Application, "components": []any{map[string]any{"name": world.Component, "containerImage": k.Repository + "@" + k.Digest}}},
		}
	}); err != nil {
		return fmt.Errorf("noise Snapshots: %w", err)
	}
	if err := s.CreateMany(ctx, sandbox.Releases, tn.NS, noiseObjects, 16, func(i int) map[string]any {
		return map[string]any{
			"metadata": map[string]any{"name": fmt.Sprintf("noise-release-%d", i), "labels": map[string]any{
				konflux.LabelComponent: world.Component, konflux.LabelSHA: other(i), konflux.LabelReleasePlan: releasePlan}},
			"spec": map[string]any{"snapshot": fmt.Sprintf("noise-snap-%d", i), "releasePlan": releasePlan},
		}
	}); err != nil {
		return fmt.Errorf("noise Releases: %w", err)
	}
	fmt.Printf("bench: cluster: %d Snapshots and %d Releases created in %s in %s\n", noiseObjects, noiseObjects, tn.NS, time.Since(start).Round(time.Millisecond))
	return nil
}

// measureRun runs run in tenant tn and adds its figures: the wall time, what the node pulled,
// and its pods' starts.
func measureRun(ctx context.Context, rep *Report, c *cluster.Cluster, w *world.ReleaseWorld, tn *world.Tenant,
	pulls *cluster.PullCounter, mem *cluster.MemorySampler, run nodeRun) error {
	const section = "cluster"
	watch, err := c.WatchTaskRuns(tn.NS, io.Discard)
	if err != nil {
		return err
	}
	defer watch.Stop()
	fmt.Printf("bench: cluster: %s\n", run.label)
	r, err := tn.Run(ctx, w.Pipeline.Spec.DeepCopy(), w.Params(tn, run.sha, run.kv...), 10*time.Minute, os.Stdout)
	if err != nil {
		return fmt.Errorf("cluster, %s: %w", run.label, err)
	}
	_, entries, err := tn.History(ctx)
	if err != nil {
		return fmt.Errorf("cluster, %s: %w", run.label, err)
	}
	// A figure of a run that did not do what it should would mislead: fail the section.
	if r.Cond.Status != corev1.ConditionTrue || !r.Reported() || len(entries) == 0 || entries[0].Status != run.status {
		got := ""
		if len(entries) > 0 {
			got = entries[0].Status
		}
		return fmt.Errorf("cluster, %s: PipelineRun %s %s (%s), reported %t, history %q, want Succeeded with history %q",
			run.label, r.PR.Name, r.Cond.Status, r.Cond.Reason, r.Reported(), got, run.status)
	}
	what := fmt.Sprintf("PipelineRun wall time, %s (%d TaskRuns; creation → end of report)", run.label, len(r.TaskRuns))
	if run.target > 0 {
		rep.add(section, what, secs(r.Wall), "≤ "+secs(run.target), boolp(r.Wall <= run.target))
	} else {
		rep.add(section, what, secs(r.Wall), "", nil)
	}

	reportPulls(rep, run, pulls.Take())
	return reportPodStarts(ctx, rep, c, tn, mem, watch, r.PR.Name, run)
}

// reportPulls adds what the node pulled for a run, by kind of image.
func reportPulls(rep *Report, run nodeRun, p cluster.Pulls) {
	const section = "cluster"
	var step, tekton, other int64
	for repo, n := range p.NodeByRepo {
		switch {
		case strings.HasPrefix(repo, "release-to-prod/"):
			step += n.Bytes
		case strings.HasPrefix(repo, "tekton/") || repo == "pause":
			tekton += n.Bytes
		default:
			other += n.Bytes
		}
	}
	rep.add(section, "bytes the node pulled, "+run.label, fmt.Sprintf("%s in %d GETs: step images %s, Tekton's images and pause %s, other %s",
		mb(p.Node.Bytes), p.Node.Requests, mb(step), mb(tekton), mb(other)), "", nil)
	if step > 0 {
		rep.add(section, "bytes the node pulled for the step images, "+run.label, mb(step), "≤ 20 MB", boolp(step <= 20e6))
	}
}

// reportPodStarts adds, for each TaskRun of PipelineRun pipelineRun, how long its pod took to
// start its first step, and the gaps between its steps, from the watch's times and the memory
// sampler's cgroups.
func reportPodStarts(ctx context.Context, rep *Report, c *cluster.Cluster, tn *world.Tenant, mem *cluster.MemorySampler,
	watch *cluster.PodWatch, pipelineRun string, run nodeRun) error {
	const section = "cluster"
	names, err := c.ContainerNames(ctx, tn.NS)
	if err != nil {
		return err
	}
	started := map[[2]string]time.Time{}            // (pod, container) → its cgroup first seen
	steps := map[string][]cluster.ContainerMemory{} // by pod: its step containers
	for id, cm := range mem.Containers() {
		if n, ok := names[id]; ok {
			started[[2]string{n.Pod, n.Container}] = cm.FirstSeen
			if !n.Init && !cm.Began.IsZero() {
				steps[n.Pod] = append(steps[n.Pod], cm)
			}
		}
	}
	for _, t := range watch.TaskRuns(pipelineRun) {
		if g, ok := stepGaps(steps[t.Pod]); ok {
			n := len(steps[t.Pod])
			rep.add(section, "between steps, "+run.label+": "+t.PipelineTask+" (one step's process gone → the next one's started, as the cgroups showed; Tekton's entrypoint polls for the previous step's end once a second)",
				fmt.Sprintf("%s in all over %d steps (mean %s, longest %s); the steps' own processes ran %s", secs(g.total), n,
					secs(g.total/time.Duration(n-1)), secs(g.longest), secs(g.ran)), "", nil)
		}
		first := started[[2]string{t.Pod, t.FirstStep}]
		how := "its cgroup appeared"
		if first.IsZero() {
			first, how = t.StepRunning, "its status said running"
		}
		if first.IsZero() || t.Created.IsZero() {
			rep.add(section, "pod start, "+run.label+": "+t.PipelineTask, "not measured: the watch missed the pod", "", nil)
			continue
		}
		// When the first step's own process started: Tekton's entrypoint may hold it for the
		// pod's ready annotation.
		began := ""
		var proc time.Time
		for _, cm := range steps[t.Pod] {
			if proc.IsZero() || cm.Began.Before(proc) {
				proc = cm.Began
			}
		}
		if !proc.IsZero() {
			began = fmt.Sprintf("; its process +%s", secs(proc.Sub(t.Created)))
		}
		rep.add(section, "pod start, "+run.label+": "+t.PipelineTask+" (TaskRun created → first step container started)",
			fmt.Sprintf("%s (scheduled +%s, initialized +%s, first step +%s: %s%s; TaskRun ended +%s)", secs(first.Sub(t.Created)),
				secs(t.Scheduled.Sub(t.Created)), secs(t.Initialized.Sub(t.Created)), secs(first.Sub(t.Created)), how, began,
				secs(t.Done.Sub(t.Created))), "", nil)
	}
	return nil
}

// gaps is how long a pod ran none of its steps between its first step's start and its last
// step's end, and how long the steps ran.
type gaps struct{ total, longest, ran time.Duration }

// stepGaps orders a pod's step containers by when their process started and adds up the time
// between one's last sample running and the next one's first: the sampler's interval (20 ms)
// bounds the error of each.
func stepGaps(steps []cluster.ContainerMemory) (gaps, bool) {
	if len(steps) < 2 {
		return gaps{}, false
	}
	steps = slices.Clone(steps)
	slices.SortFunc(steps, func(a, b cluster.ContainerMemory) int { return a.Began.Compare(b.Began) })
	var g gaps
	for i, s := range steps {
		g.ran += s.LastRan.Sub(s.Began)
		if i == 0 {
			continue
		}
		d := max(s.Began.Sub(steps[i-1].LastRan), 0)
		g.total += d
		g.longest = max(g.longest, d)
	}
	return g, true
}

func secs(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }

func mb(n int64) string { return fmt.Sprintf("%.2f MB", float64(n)/1e6) }

// stepMemory reports each step's highest peak over the runs against the memory limit the
// Pipeline gives it, in the Pipeline's order.
func stepMemory(ctx context.Context, rep *Report, c *cluster.Cluster, w *world.ReleaseWorld, containers map[string]cluster.ContainerMemory, namespaces []string) error {
	const section = "cluster: step memory (peak of its container's cgroup, 5 runs)"
	names := map[string]cluster.PodContainer{}
	for _, ns := range namespaces {
		n, err := c.ContainerNames(ctx, ns)
		if err != nil {
			return err
		}
		maps.Copy(names, n)
	}
	type peak struct {
		peak, resident, limit int64
		containers, ended     int
	}
	peaks := map[string]*peak{} // by task/step-<name>
	for id, cm := range containers {
		n, ok := names[id]
		if !ok || n.Init {
			continue
		}
		key := n.PipelineTask + "/" + n.Container
		p := peaks[key]
		if p == nil {
			p = &peak{}
			peaks[key] = p
		}
		p.peak, p.resident, p.limit = max(p.peak, cm.Peak), max(p.resident, cm.Resident), cm.Limit
		p.containers++
		if cm.Ended {
			p.ended++
		}
	}
	spec := w.Pipeline.Spec
	for _, task := range append(slices.Clone(spec.Tasks), spec.Finally...) {
		if task.TaskSpec == nil {
			continue
		}
		// The containers as the pod builder makes them: the memory may be in the stepTemplate.
		steps, err := v1.MergeStepsWithStepTemplate(task.TaskSpec.StepTemplate, task.TaskSpec.Steps)
		if err != nil {
			return fmt.Errorf("pipeline task %s: %w", task.Name, err)
		}
		for _, st := range steps {
			limit := st.ComputeResources.Limits.Memory().Value()
			p := peaks[task.Name+"/step-"+st.Name]
			if p == nil || p.peak == 0 {
				rep.add(section, st.Name, "not measured: no sample of its container", "≤ 80% of the limit", nil)
				continue
			}
			share := float64(p.peak) / float64(limit)
			fig := fmt.Sprintf("%.1f MB of %.0fMi (%.0f%%, headroom %.1f MB); resident (anon + file-mapped, sampled) ≤ %.1f MB; read after the step ended in %d of %d runs",
				float64(p.peak)/1e6, float64(limit)/(1<<20), share*100, float64(limit-p.peak)/1e6, float64(p.resident)/1e6, p.ended, p.containers)
			if p.limit != 0 && p.limit != limit {
				fig += fmt.Sprintf("; the cgroup's limit is %d bytes", p.limit)
			}
			rep.add(section, st.Name, fig, "≤ 80% of the limit", boolp(share <= 0.8))
		}
	}
	return nil
}
