package world

import (
	"cmp"
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"knative.dev/pkg/apis"

	pipelinev1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"

	"github.com/release-to-prod/release-to-prod/pkg/actions/history"
	"github.com/release-to-prod/release-to-prod/pkg/clients/konflux"
	"github.com/release-to-prod/release-to-prod/test/cluster"
	"github.com/release-to-prod/release-to-prod/test/sandbox"
	"github.com/release-to-prod/release-to-prod/test/stepexec"
	"github.com/release-to-prod/release-to-prod/test/tenantsetup"
	"github.com/release-to-prod/release-to-prod/test/tools"
)

// releaseSHA is the commit the release scenarios release; unbuiltSHA one whose build has not
// happened (no image, no Snapshot).
const (
	releaseSHA = "3f786850e387550fdab836ed7e6dc881de23001b"
	unbuiltSHA = "89e6c98d92887913cadf06b2adb97f26cde4849b"
)

// pipelineWorld is what every scenario shares: the cluster and its ReleaseWorld (CRDs, step
// images, the generated Pipeline, the Quay and release-service stand-ins), and tkn-local with
// the step binaries.
type pipelineWorld struct {
	*ReleaseWorld
	am    *cluster.Alertmanager
	c     *cluster.Cluster
	root  string
	local LocalRunner
}

// scenario is one way a run can go. It runs on the node as a tenant in namespace node-<ns> and
// through tkn-local in local-<ns>, seeded alike: what the two report must be the same.
type scenario struct {
	name, ns string
	sha      string
	// konflux seeds the Konflux world (tests "True"/"False", the ReleasePlan matched or not);
	// nil seeds nothing.
	konflux *KonfluxOptions
	scan    sandbox.Reply // what Quay says of the commit's image
	mutate  func(*pipelinev1.PipelineSpec)
	params  []string // name, value, … over the defaults
	runs    int      // runs of the same params, one after the other (default 1)
	// runSHA is the commit the run releases when it is not the seeded one (a commit whose
	// build has not happened).
	runSHA string
	opts   RunOptions // timeouts, a cancel
	// nodeOnly says why tkn-local cannot run the scenario; empty: it runs and is compared.
	nodeOnly string
	// unbound removes the project's RoleBindings after the set-up: the run's ServiceAccounts
	// have no right at all, and no history can be written.
	unbound bool
	// check holds the node's run i to what it must be; the local run is then held to the node's.
	check func(t *testing.T, w *pipelineWorld, i int, r *Run, h []history.Entry, releases int)
	// roles are Konflux's roles the tenants get (default TenantVariant); under the hosted ones
	// the report may not write the history ConfigMap.
	roles tenantsetup.Variant
	// record, when set, holds the node's run i to the release history as tkn-local history
	// reads it from every store (history.Collect), as the tenant admin.
	record func(t *testing.T, w *pipelineWorld, tn *Tenant, i int, r *Run, runs []history.Run)
}

// TestPipelineOnNode runs the generated release-to-prod Pipeline on the node, as a tenant
// user with only a tenant's Tekton rights, in restricted namespaces with the project's RBAC,
// step images built from this checkout and pulled as quay.io/release-to-prod/<step>:0.1.0, Slack
// an HTTPS sink. In every scenario the finally task report must run and the history and Slack
// must say what happened. Then each scenario runs through tkn-local, against the same API
// server, registry and stand-ins, and must end the same: outcome, skipped tasks, each task's
// status, results and steps, the history entry and the Slack post.
func TestPipelineOnNode(t *testing.T) {
	// cluster.New skips under -short, and fails (never skips) when the cluster cannot start.
	w := &pipelineWorld{c: cluster.New(t, cluster.Options{Mirrors: []string{"quay.io"}})}
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Minute)
	defer cancel()
	var err error
	w.root, err = tools.Root()
	require.NoError(t, err)
	w.ReleaseWorld, err = New(ctx, w.c, w.root)
	require.NoError(t, err)
	t.Cleanup(w.Stop)
	t.Logf("step images built (linux/%s) and pushed: %s", runtime.GOARCH, w.ImagesPushed.Round(time.Millisecond))
	w.local = buildLocalRunner(t, w.root)
	w.am, err = w.c.StartAlertmanager(ctx)
	require.NoError(t, err)
	// A production alert, selected by the scenario that expects it (case="alert").
	require.NoError(t, w.am.PostAlerts(ctx, sandbox.AlertmanagerAlert{
		Labels:      map[string]string{"alertname": "AutomationAnalyticsAPIErrorBudgetBurn", "environment": "production", "severity": "critical", "case": "alert"},
		Annotations: map[string]string{"summary": "the API burns its error budget 14x too fast"},
		StartsAt:    time.Now().Add(-time.Minute), EndsAt: time.Now().Add(time.Hour),
	}))

	passing := &KonfluxOptions{Tests: "True", Matched: true}
	for _, sc := range []scenario{
		{name: "invalid input", ns: "invalid", sha: "not-a-sha",
			check: func(t *testing.T, _ *pipelineWorld, _ int, r *Run, h []history.Entry, _ int) {
				checkStopped(t, r, h, "Rejected", "commit_sha")
			}},
		{name: "step image cannot be pulled", ns: "pull", sha: "0123456789abcdef0123456789abcdef01234567",
			mutate: withImage("check-alerts", "quay.io/release-to-prod/check-alerts:never-pushed"),
			check: func(t *testing.T, _ *pipelineWorld, _ int, r *Run, h []history.Entry, _ int) {
				checkStopped(t, r, h, "Blocked", "cannot be pulled")
			}},
		{name: "dry run", ns: "dry-run", konflux: passing, scan: CleanScan(), params: []string{"dry_run", "true"},
			check: func(t *testing.T, _ *pipelineWorld, _ int, r *Run, h []history.Entry, releases int) {
				assert.Equal(t, corev1.ConditionTrue, r.Cond.Status, "the run must succeed")
				assert.Zero(t, releases, "a dry run creates no Release")
				if assert.Len(t, h, 1) {
					assert.Equal(t, "DryRun", h[0].Status)
				}
				if assert.Len(t, r.Posts, 1) {
					assert.Contains(t, r.Posts[0], "Dry run passed")
				}
			}},
		// Under hosted Konflux's roles, set up by the README's script as written: the report may
		// not write the history ConfigMap, so the record is on the Release and in the
		// PipelineRuns' results, and Slack says so.
		{name: "success then already released", ns: "release", konflux: passing, scan: CleanScan(), runs: 2, roles: tenantsetup.Hosted,
			check: func(t *testing.T, _ *pipelineWorld, i int, r *Run, h []history.Entry, releases int) {
				assert.Equal(t, corev1.ConditionTrue, r.Cond.Status, "the run must succeed")
				assert.Equal(t, 1, releases, "one Release, however many runs")
				assert.Empty(t, h, "no role below the tenant admin writes ConfigMaps on hosted Konflux")
				if !assert.Len(t, r.Posts, 1) {
					return
				}
				assert.Contains(t, r.Posts[0], "not recorded in ConfigMap release-history: the ServiceAccount may not create configmaps", "Slack names the missing right")
				assert.Contains(t, r.Posts[0], "tkn-local history "+Component, "and where the record is")
				if i == 0 {
					assert.Contains(t, r.Posts[0], "Released")
					return
				}
				if cr := r.TaskRun("create-release"); cr != nil {
					t.Errorf("the second run ran create-release (TaskRun %s)", cr.Name)
				}
				assert.Contains(t, r.Posts[0], "Already released")
			},
			record: func(t *testing.T, w *pipelineWorld, tn *Tenant, i int, r *Run, runs []history.Run) {
				if !assert.Len(t, runs, i+1, "one record per run: %+v", runs) {
					return
				}
				got := runs[0]
				assert.Equal(t, r.PR.Name, got.PipelineRun, "newest first")
				assert.Equal(t, releaseSHA, got.Commit)
				assert.NotEmpty(t, got.Release)
				assert.Contains(t, got.Gates, "image ✓")
				if i == 0 {
					assert.Equal(t, "Succeeded", got.Outcome)
					assert.Equal(t, []string{history.FromPipelineRun, history.FromRelease}, got.Sources, "the Release carries the run's record")
					checkPreflightMayNotRelease(t, w, tn)
					return
				}
				assert.Equal(t, "AlreadyReleased", got.Outcome)
				assert.Equal(t, []string{history.FromPipelineRun}, got.Sources, "a run that created no Release: its PipelineRun's results")
				assert.Equal(t, runs[1].Release, got.Release, "the Release the first run created")
			}},
		{name: "a production alert fires", ns: "alert", konflux: passing, scan: CleanScan(),
			// A real Alertmanager in the cluster's namespace, asked over plain HTTP (no token).
			params: []string{"skip_alerts", "false", "alertmanager_url", w.am.URL, "alert_matchers", `environment="production",case="alert"`},
			check: func(t *testing.T, _ *pipelineWorld, _ int, r *Run, h []history.Entry, releases int) {
				checkStopped(t, r, h, "Blocked", "AutomationAnalyticsAPIErrorBudgetBurn")
				assert.Zero(t, releases, "no Release")
				if pre := r.TaskRun("preflight"); assert.NotNil(t, pre) {
					assert.Equal(t, "alerts", taskResults(pre)["FAILED_GATES"])
				}
			}},
		{name: "a step exceeds its memory limit", ns: "oom", konflux: passing, scan: CleanScan(),
			mutate: withMemoryLimit("check-konflux", "8Mi"),
			check: func(t *testing.T, _ *pipelineWorld, _ int, r *Run, h []history.Entry, releases int) {
				checkStopped(t, r, h, "Blocked", "OOMKilled")
				assert.Zero(t, releases, "no Release")
			}},
		{name: "every gate fails", ns: "all-fail", konflux: &KonfluxOptions{Tests: "False", Matched: false},
			// Tests failed, the ReleasePlan neither matched nor active, the image not where the
			// run looks for it, a critical CVE, an Alertmanager nobody answers at, app-interface
			// asked for and not bound: every gate writes its part of the summary, and the
			// preflight's results must still fit in its termination messages.
			scan: sandbox.QuayScanned(sandbox.QuayFeature{Name: "openssl", Version: "3.0.7-1.el9",
				Vulnerabilities: []sandbox.QuayVulnerability{{Name: "CVE-2024-0001", Severity: "Critical", FixedBy: "3.0.7-2.el9"}}}),
			params: []string{"skip_alerts", "false", "alertmanager_url", "https://" + cluster.GatewayIP + ":1",
				"skip_app_interface", "false", "repository", cluster.RegistryHost + "/nowhere/$NS"},
			check: func(t *testing.T, _ *pipelineWorld, _ int, r *Run, h []history.Entry, releases int) {
				assert.Equal(t, corev1.ConditionFalse, r.Cond.Status, "the run must fail")
				assert.Zero(t, releases, "no Release")
				pre := r.TaskRun("preflight")
				require.NotNil(t, pre, "the preflight TaskRun")
				results := taskResults(pre)
				t.Logf("preflight results: %d, GATE_SUMMARY %d bytes, FAILURE_CAUSE %d bytes", len(results), len(results["GATE_SUMMARY"]), len(results["FAILURE_CAUSE"]))
				assert.NotEmpty(t, results["GATE_SUMMARY"], "GATE_SUMMARY kept")
				assert.NotEmpty(t, results["FAILURE_CAUSE"], "FAILURE_CAUSE kept")
				assert.Equal(t, "image,konflux,alerts,vulnerabilities,app-interface", results["FAILED_GATES"], "every gate failed")
				if assert.Len(t, h, 1) {
					assert.Equal(t, "Blocked", h[0].Status)
					assert.NotEmpty(t, strings.TrimSpace(h[0].Cause), "the history says why")
				}
				assert.Len(t, r.Posts, 1)
			}},
		{name: "a run without the project's bindings", ns: "unbound", konflux: passing, scan: CleanScan(), unbound: true,
			nodeOnly: "tkn-local runs as a ServiceAccount of its own",
			check: func(t *testing.T, _ *pipelineWorld, _ int, r *Run, h []history.Entry, releases int) {
				assert.Equal(t, corev1.ConditionFalse, r.Cond.Status, "the run must fail")
				assert.Zero(t, releases, "no Release")
				if assert.Len(t, r.Posts, 1, "Slack is told, though nothing could be recorded") {
					assert.Contains(t, r.Posts[0], "Release run not permitted")
					assert.Contains(t, r.Posts[0], "the ServiceAccount may not list taskruns", "Slack names the missing right")
					assert.Contains(t, r.Posts[0], "tenant-setup.sh", "and the fix")
					assert.Contains(t, r.Posts[0], "not recorded in ConfigMap release-history: the ServiceAccount may not get configmaps", "and that the history was not written")
				}
				checkNotBlocked(t, r)
			}},
		{name: "a Secret that does not exist", ns: "no-secret", konflux: passing, scan: CleanScan(),
			// Named by its param and mounted by the Task as an optional volume: the pod starts
			// and the step says what is missing, where a workspace bound to it would leave the
			// pod in ContainerCreating until the run's timeout.
			params: []string{"skip_alerts", "false", "alertmanager_url", w.am.URL, "alert_matchers", `environment="production",case="none"`,
				"monitoring_token_secret", "team-monitoring-token"},
			check: func(t *testing.T, _ *pipelineWorld, _ int, r *Run, h []history.Entry, releases int) {
				assert.Less(t, r.Wall, time.Minute, "a missing Secret ends the run within a minute")
				checkStopped(t, r, h, "Blocked", "Secret team-monitoring-token (param monitoring_token_secret) does not exist in this namespace (or holds no key): the step cannot read its key token")
				if assert.Len(t, r.Posts, 1) {
					assert.Contains(t, r.Posts[0], "kubectl create secret generic team-monitoring-token --from-file=token=", "Slack gives the fix")
				}
				assert.Zero(t, releases, "no Release")
				if pre := r.TaskRun("preflight"); assert.NotNil(t, pre) {
					assert.Equal(t, "alerts", taskResults(pre)["FAILED_GATES"])
				}
			}},
		{name: "tasks timeout while check-image waits for the build", ns: "timeout", konflux: passing, scan: CleanScan(), runSHA: unbuiltSHA,
			params: []string{"build_wait_timeout", "10m"},
			opts: RunOptions{Timeouts: &pipelinev1.TimeoutFields{
				Pipeline: &metav1.Duration{Duration: 5 * time.Minute}, Tasks: &metav1.Duration{Duration: 45 * time.Second}}},
			nodeOnly: "tkn-local does not enforce the PipelineRun's timeouts",
			check: func(t *testing.T, _ *pipelineWorld, _ int, r *Run, h []history.Entry, releases int) {
				checkStopped(t, r, h, "RunTimedOut", "the run timed out after 45s while check-image waited for the build")
				checkNotBlocked(t, r)
				assert.Zero(t, releases, "no Release")
			}},
		{name: "CancelledRunFinally while check-image waits for the build", ns: "cancel", konflux: passing, scan: CleanScan(), runSHA: unbuiltSHA,
			params: []string{"build_wait_timeout", "10m"},
			opts: RunOptions{CancelAs: pipelinev1.PipelineRunSpecStatusCancelledRunFinally,
				CancelWhen: func(trs []pipelinev1.TaskRun) bool { return StepAtWork(trs, "preflight", "check-image") }},
			nodeOnly: "tkn-local cannot be cancelled mid-run",
			check: func(t *testing.T, _ *pipelineWorld, _ int, r *Run, h []history.Entry, releases int) {
				checkStopped(t, r, h, "Cancelled", "the run was cancelled (CancelledRunFinally) while check-image waited for the build")
				checkNotBlocked(t, r)
				assert.Zero(t, releases, "no Release")
			}},
	} {
		t.Run(sc.name, func(t *testing.T) { w.runScenario(ctx, t, sc) })
	}
}

// runScenario runs sc on the node, then through tkn-local, and compares the two.
func (w *pipelineWorld) runScenario(ctx context.Context, t *testing.T, sc scenario) {
	img, err := CommitImage()
	require.NoError(t, err)
	sha := sc.sha
	if sha == "" {
		sha = releaseSHA
	}
	roles := cmp.Or(sc.roles, TenantVariant)
	seed := func(ns string) *Tenant {
		tn, err := NewTenantAs(ctx, w.c, w.root, ns, roles)
		require.NoError(t, err)
		if sc.unbound {
			for _, rb := range []string{"release-to-prod", "release-to-prod-releaser"} {
				require.NoError(t, w.c.Client.RbacV1().RoleBindings(ns).Delete(ctx, rb, metav1.DeleteOptions{}))
			}
		}
		if sc.konflux != nil {
			o := *sc.konflux
			o.SHA, o.Image = sha, img
			k, err := tn.SeedKonflux(ctx, o)
			require.NoError(t, err)
			if sc.scan.Status != 0 {
				w.Quay.SetSecurity(k.QuayRepo, k.Digest, sc.scan)
			}
		}
		return tn
	}
	params := func(tn *Tenant) map[string]string {
		kv := slices.Clone(sc.params)
		for i := 1; i < len(kv); i += 2 {
			kv[i] = strings.ReplaceAll(kv[i], "$NS", tn.NS)
		}
		runSHA := sha
		if sc.runSHA != "" {
			runSHA = sc.runSHA
		}
		return w.Params(tn, runSHA, kv...)
	}
	spec := w.Pipeline.Spec.DeepCopy()
	if sc.mutate != nil {
		sc.mutate(spec)
	}
	runs := max(sc.runs, 1)

	nodeNS, localNS := "node-"+sc.ns, "local-"+sc.ns
	node := &nodeTenant{seed(nodeNS)}
	var nodeViews []runView
	var nodeWalls []time.Duration
	for i := range runs {
		r := node.run(ctx, t, w.c, spec.DeepCopy(), params(node.Tenant), sc.opts)
		assert.True(t, r.Reported(), "the finally task report must run and succeed")
		var h []history.Entry
		if !sc.unbound {
			h = historyOf(ctx, t, node.Tenant)
		}
		sc.check(t, w, i, r, h, releasesIn(ctx, t, w, node.Tenant))
		if sc.record != nil {
			sc.record(t, w, node.Tenant, i, r, recordOf(ctx, t, w, node.Tenant))
		}
		nodeWalls = append(nodeWalls, r.Wall)
		nodeViews = append(nodeViews, viewOf(nodeNS, r.PR.Name, r.Cond, r.PR.Status.SkippedTasks, r.PR.Status.Results, r.TaskRuns, h, r.Posts))
	}

	if sc.nodeOnly != "" {
		t.Logf("%s: wall time on the node %s; not through tkn-local: %s", sc.name, nodeWalls[0].Round(time.Millisecond), sc.nodeOnly)
		return
	}
	local := seed(localNS)
	p := w.Pipeline.DeepCopy()
	p.Spec = *spec
	for i := range runs {
		lr, err := local.RunLocal(ctx, w.local, p, params(local), filepath.Join(t.TempDir(), fmt.Sprintf("run-%d", i)))
		if lr != nil {
			t.Logf("tkn-local (exit %d, wall time %s):\n%s", lr.ExitCode, lr.Wall.Round(time.Millisecond), truncate(lr.Output, 20000))
		}
		require.NoError(t, err)
		h := historyOf(ctx, t, local)
		cond := lr.Cond()
		require.NotNil(t, cond, "tkn-local wrote the PipelineRun's condition")
		got := viewOf(localNS, lr.PipelineRun.Name, cond, lr.PipelineRun.Status.SkippedTasks, lr.PipelineRun.Status.Results, lr.TaskRuns, h, lr.Posts)
		assert.Equal(t, nodeViews[i], got, "run %d: tkn-local must end as the node did (expected: node, actual: tkn-local)", i+1)
		assert.Equal(t, releasesIn(ctx, t, w, node.Tenant), releasesIn(ctx, t, w, local), "as many Releases through tkn-local as on the node")
		t.Logf("%s, run %d: wall time on the node %s, through tkn-local %s", sc.name, i+1, nodeWalls[i].Round(time.Millisecond), lr.Wall.Round(time.Millisecond))
	}
}

// runView is what a run reports, with what differs by nature between two runs (names,
// namespaces, times) normalised away.
type runView struct {
	Outcome string // status reason: message
	Skipped []string
	Results map[string]string
	Tasks   map[string]taskView
	History history.Entry // the run's entry
	Slack   []string
}

type taskView struct {
	Outcome string // status reason
	Results map[string]string
	Steps   []string // name: exit code (reason)
}

var (
	// In a JSON document (a Slack post): to the end of the string value.
	pullDetailJSON = regexp.MustCompile(`ErrImagePull: (?:[^"\\]|\\.)*`)
	// In plain text (a result, the history's cause): to the end.
	pullDetail = regexp.MustCompile(`ErrImagePull: .*`)
	rfc3339    = regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)`)
	duration   = regexp.MustCompile(`\b\d+(\.\d+)?(ms|s|m\d+(\.\d+)?s)\b`)
)

func viewOf(ns, run string, cond *apis.Condition, skipped []pipelinev1.SkippedTask, results []pipelinev1.PipelineRunResult,
	trs []pipelinev1.TaskRun, h []history.Entry, posts []string) runView {
	// What follows "ErrImagePull: " is the container runtime's own account of a failed pull,
	// which tkn-local, having no runtime, words its own way.
	names := strings.NewReplacer(run, "<run>", ns, "<ns>")
	normDetail := func(s string, detail *regexp.Regexp) string {
		s = duration.ReplaceAllString(rfc3339.ReplaceAllString(names.Replace(s), "<time>"), "<duration>")
		return detail.ReplaceAllString(s, "ErrImagePull: <detail>")
	}
	norm := func(s string) string { return normDetail(s, pullDetail) }
	v := runView{Outcome: fmt.Sprintf("%s %s: %s", cond.Status, cond.Reason, norm(cond.Message)), Results: map[string]string{}, Tasks: map[string]taskView{}}
	for _, s := range skipped {
		v.Skipped = append(v.Skipped, s.Name+": "+string(s.Reason))
	}
	slices.Sort(v.Skipped)
	for _, r := range results {
		v.Results[r.Name] = norm(r.Value.StringVal)
	}
	for _, tr := range trs {
		tv := taskView{Results: map[string]string{}}
		if c := tr.Status.GetCondition(apis.ConditionSucceeded); c != nil {
			tv.Outcome = fmt.Sprintf("%s %s", c.Status, c.Reason)
		}
		for _, r := range tr.Status.Results {
			tv.Results[r.Name] = norm(r.Value.StringVal)
		}
		for _, s := range tr.Status.Steps {
			switch {
			case s.Terminated != nil:
				tv.Steps = append(tv.Steps, fmt.Sprintf("%s: exit %d (container %s, step %s)", s.Name, s.Terminated.ExitCode, s.Terminated.Reason, s.TerminationReason))
			case s.Waiting != nil:
				tv.Steps = append(tv.Steps, fmt.Sprintf("%s: waiting (%s)", s.Name, s.Waiting.Reason))
			case s.Running != nil:
				tv.Steps = append(tv.Steps, s.Name+": running")
			default:
				tv.Steps = append(tv.Steps, s.Name+": no state")
			}
		}
		v.Tasks[tr.Labels["tekton.dev/pipelineTask"]] = tv
	}
	if len(h) > 0 {
		e := h[0]
		for _, tm := range []*string{&e.Started, &e.Finished} {
			if *tm != "" {
				*tm = "<time>"
			}
		}
		if e.Built != "" {
			e.Built = "<time>" // when the seeded Snapshot was created
		}
		if e.Release != "" {
			e.Release = "<release>"
		}
		e.PipelineRun, e.Cause, e.Snapshot = norm(e.PipelineRun), norm(e.Cause), norm(e.Snapshot)
		v.History = e
	}
	for _, p := range posts {
		v.Slack = append(v.Slack, normDetail(p, pullDetailJSON))
	}
	return v
}

// buildLocalRunner builds tkn-local, the step binaries and the peak-rss launcher from this
// checkout.
func buildLocalRunner(t *testing.T, root string) LocalRunner {
	t.Helper()
	bin := t.TempDir()
	require.NoError(t, stepexec.BuildAll(bin+string(filepath.Separator)))
	tkn := filepath.Join(t.TempDir(), "tkn-local")
	require.NoError(t, stepexec.BuildCommand(tkn, "./cmd/tkn-local"))
	return LocalRunner{TknLocal: tkn, BinDir: bin, Root: root}
}

// checkStopped holds a run that stopped before releasing to what the history and Slack must say.
func checkStopped(t *testing.T, r *Run, h []history.Entry, status, cause string) {
	t.Helper()
	assert.Equal(t, corev1.ConditionFalse, r.Cond.Status, "the run must fail")
	if assert.Len(t, h, 1) {
		assert.Equal(t, status, h[0].Status)
		assert.Contains(t, h[0].Cause, cause, "the history says why")
		assert.NotEmpty(t, h[0].Started, "the history says when the run started")
	}
	if assert.Len(t, r.Posts, 1) {
		assert.Contains(t, r.Posts[0], cause, "Slack says why")
	}
}

// checkNotBlocked: a run Tekton ended is never announced as blocked by a gate, nor as results
// the kubelet cut.
func checkNotBlocked(t *testing.T, r *Run) {
	t.Helper()
	for _, p := range r.Posts {
		assert.NotContains(t, p, "blocked")
		assert.NotContains(t, p, "kubelet")
	}
}

// recordOf reads the release history of the tenant's component from every store, as
// tkn-local history does, with the tenant admin's rights, and logs it.
func recordOf(ctx context.Context, t *testing.T, w *pipelineWorld, tn *Tenant) []history.Run {
	t.Helper()
	cfg := rest.CopyConfig(w.c.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: TenantAdminUser, Groups: []string{"system:authenticated"}}
	dyn, err := dynamic.NewForConfig(cfg)
	require.NoError(t, err)
	runs, err := history.Collect(ctx, &konflux.Client{Dynamic: dyn, Namespace: tn.NS}, Component, "release-history")
	require.NoError(t, err, "the release history is readable by the tenant admin")
	for _, n := range runs.Notes {
		t.Logf("history of %s: %s", tn.NS, n)
	}
	for _, r := range runs.Runs {
		t.Logf("history of %s: %s %s %s %s %s %v", tn.NS, r.PipelineRun, r.Commit, r.Outcome, r.Release, r.Gates, r.Sources)
	}
	return runs.Runs
}

// checkPreflightMayNotRelease: the ServiceAccount the preflight (and the report) runs as is
// refused a Release create by the API server, under the roles the README's set-up bound.
func checkPreflightMayNotRelease(t *testing.T, w *pipelineWorld, tn *Tenant) {
	t.Helper()
	cfg := rest.CopyConfig(w.c.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: "system:serviceaccount:" + tn.NS + ":release-to-prod",
		Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + tn.NS, "system:authenticated"}}
	dyn, err := dynamic.NewForConfig(cfg)
	require.NoError(t, err)
	req := konflux.ReleaseRequest{Component: Component, Application: Application, SHA: unbuiltSHA, Snapshot: "any", ReleasePlan: "any", Attempt: 1}
	_, err = dyn.Resource(konflux.ReleasesResource).Namespace(tn.NS).Create(context.Background(), req.Object(tn.NS), metav1.CreateOptions{})
	assert.True(t, apierrors.IsForbidden(err), "the preflight's ServiceAccount creates a Release: %v", err)
}

// historyOf reads the tenant's history ConfigMap. Under hosted Konflux's roles the report may
// not write it: there must be none, and the history is empty.
func historyOf(ctx context.Context, t *testing.T, tn *Tenant) []history.Entry {
	t.Helper()
	if tn.Variant == tenantsetup.Hosted {
		_, err := tn.c.Client.CoreV1().ConfigMaps(tn.NS).Get(ctx, "release-history", metav1.GetOptions{})
		assert.True(t, apierrors.IsNotFound(err), "a history ConfigMap under the hosted roles: %v", err)
		return nil
	}
	data, entries, err := tn.History(ctx)
	require.NoError(t, err, "the history records the run")
	t.Logf("history of %s: %s", tn.NS, truncate(data[history.Key], 1500))
	assert.NotContains(t, data[history.Key], "$(", "history entry with an unsubstituted Tekton reference")
	return entries
}

func releasesIn(ctx context.Context, t *testing.T, w *pipelineWorld, tn *Tenant) int {
	t.Helper()
	n, err := w.Releases(ctx, tn)
	require.NoError(t, err)
	return n
}

func taskResults(tr *pipelinev1.TaskRun) map[string]string {
	out := map[string]string{}
	for _, res := range tr.Status.Results {
		out[res.Name] = res.Value.StringVal
	}
	return out
}

// withImage returns a mutation that gives step the image image.
func withImage(step, image string) func(*pipelinev1.PipelineSpec) {
	return func(s *pipelinev1.PipelineSpec) {
		for i := range s.Tasks {
			for j := range s.Tasks[i].TaskSpec.Steps {
				if st := &s.Tasks[i].TaskSpec.Steps[j]; st.Name == step {
					st.Image = image
				}
			}
		}
	}
}

// withMemoryLimit returns a mutation that gives step a memory limit of limit and drops its
// GOMEMLIMIT, so that the Go runtime does not try to stay under it.
func withMemoryLimit(step, limit string) func(*pipelinev1.PipelineSpec) {
	return func(s *pipelinev1.PipelineSpec) {
		for i := range s.Tasks {
			for j := range s.Tasks[i].TaskSpec.Steps {
				st := &s.Tasks[i].TaskSpec.Steps[j]
				if st.Name != step {
					continue
				}
				q := resource.MustParse(limit)
				st.ComputeResources.Limits[corev1.ResourceMemory] = q
				st.ComputeResources.Requests[corev1.ResourceMemory] = q
				st.Env = slices.DeleteFunc(st.Env, func(e corev1.EnvVar) bool { return e.Name == "GOMEMLIMIT" })
			}
		}
	}
}

// nodeTenant is a Tenant for a test.
type nodeTenant struct{ *Tenant }

// run creates a PipelineRun of spec with params as the tenant, waits for it to end, logs its
// TaskRuns and wall time, and checks what every run must do: no unsubstituted Tekton reference
// in a Slack post.
func (tn *nodeTenant) run(ctx context.Context, t *testing.T, c *cluster.Cluster, spec *pipelinev1.PipelineSpec, params map[string]string, opts RunOptions) *Run {
	t.Helper()
	r, err := tn.RunWith(ctx, spec, params, opts, 10*time.Minute, cluster.TestLog(t))
	if r != nil {
		for _, tr := range r.TaskRuns {
			logTaskRun(ctx, t, c, tn.NS, &tr)
		}
	}
	require.NoError(t, err)
	t.Logf("PipelineRun %s: %s %s: %s — wall time %s", r.PR.Name, r.Cond.Status, r.Cond.Reason, r.Cond.Message, r.Wall.Round(time.Millisecond))
	assert.NotEmpty(t, r.Posts, "Slack was told")
	for _, p := range r.Posts {
		t.Logf("Slack post: %s", truncate(p, 600))
		// A result a step did not write stays in the text as Tekton's literal reference.
		assert.NotContains(t, p, "$(", "Slack post with an unsubstituted Tekton reference")
	}
	return r
}

// logTaskRun logs a TaskRun's outcome, its pod's termination-message budget, and the log of
// every step that did not exit 0 and of every step of report.
func logTaskRun(ctx context.Context, t *testing.T, c *cluster.Cluster, ns string, tr *pipelinev1.TaskRun) {
	if cond := tr.Status.GetCondition(apis.ConditionSucceeded); cond != nil {
		t.Logf("TaskRun %s: %s %s: %s", tr.Name, cond.Status, cond.Reason, truncate(cond.Message, 400))
	}
	if pod, err := c.Client.CoreV1().Pods(ns).Get(ctx, tr.Status.PodName, metav1.GetOptions{}); err == nil {
		n := len(pod.Spec.Containers) + len(pod.Spec.InitContainers)
		t.Logf("  pod %s: %d containers: the kubelet keeps %d bytes of each termination message", pod.Name, n, cluster.PodTerminationMessageCap/n)
	}
	for _, s := range tr.Status.Steps {
		if s.Terminated == nil {
			continue
		}
		t.Logf("  step %s: exit %d %s %q", s.Name, s.Terminated.ExitCode, s.Terminated.Reason, truncate(s.Terminated.Message, 300))
		if s.Terminated.ExitCode != 0 || tr.Labels["tekton.dev/pipelineTask"] == "report" {
			logs, err := c.Client.CoreV1().Pods(ns).GetLogs(tr.Status.PodName, &corev1.PodLogOptions{Container: s.Container}).DoRaw(ctx)
			t.Logf("  step %s log (%v):\n%s", s.Name, err, truncate(string(logs), 1500))
		}
	}
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
