package world

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	pipelinev1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	tektonclient "github.com/tektoncd/pipeline/pkg/client/clientset/versioned"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"knative.dev/pkg/apis"
	"sigs.k8s.io/yaml"

	"github.com/release-to-prod/release-to-prod/pkg/build/tekton"
	"github.com/release-to-prod/release-to-prod/test/cluster"
	"github.com/release-to-prod/release-to-prod/test/tools"
)

// TestStartPathsOnNode starts the Pipeline every way a user does, on the node, each time
// resolved by what a Konflux cluster runs — Tekton's git and bundles resolvers — and not
// embedded by the test:
//
//   - on merge: the PaC run a team copies into its component repository (pac/), rendered as
//     Pipelines-as-Code renders it and created as its controller does; the git resolver fetches
//     the Pipeline from a git server that serves this checkout, tagged as the run pins it, to
//     PaC's token only. Left as shipped, the run stops at check-input naming each placeholder;
//   - by bundle: `make bundles` pushes the bundles to the cluster's registry, and a run names the
//     Pipeline's bundle by digest;
//   - one Task in someone else's Pipeline: check-image and check-vulnerabilities, by bundle, their
//     results used;
//   - by hand: the real tkn runs the README's command.
//
// Each release path must end with one Release; the wall time of each is logged at the end.
func TestStartPathsOnNode(t *testing.T) {
	c := cluster.New(t, cluster.Options{Mirrors: []string{"quay.io"}})
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Minute)
	defer cancel()
	root, err := tools.Root()
	require.NoError(t, err)
	w, err := New(ctx, c, root)
	require.NoError(t, err)
	t.Cleanup(w.Stop)

	// The git server answers for the host the shipped PaC run names, at the tag it pins.
	tmplPath := filepath.Join(root, tekton.PaCDir, "release-to-prod-push.yaml")
	tmpl, err := os.ReadFile(tmplPath)
	require.NoError(t, err)
	var shipped pipelinev1.PipelineRun
	require.NoError(t, yaml.UnmarshalStrict(tmpl, &shipped))
	require.NotNil(t, shipped.Spec.PipelineRef, "the PaC run fetches its Pipeline")
	refParams := map[string]string{}
	for _, p := range shipped.Spec.PipelineRef.Params {
		refParams[p.Name] = p.Value.StringVal
	}
	repoURL, err := url.Parse(refParams["url"])
	require.NoError(t, err, "pipelineRef url")
	token := randomHex(t, 20)
	began := time.Now()
	gs, err := c.ServeGit(ctx, root, strings.TrimSuffix(strings.Trim(repoURL.Path, "/"), ".git"), refParams["revision"], token)
	require.NoError(t, err)
	require.NoError(t, c.StartResolvers(ctx, cluster.ResolverOptions{GitURLRewrites: map[string]string{repoURL.Scheme + "://" + repoURL.Host + "/": gs.Base}}))
	t.Logf("git server %s serves this checkout (%s tagged %s); resolvers ready: %s", gs.URL, gs.Commit, refParams["revision"], time.Since(began).Round(time.Millisecond))

	admin, err := tektonclient.NewForConfig(c.Config)
	require.NoError(t, err)
	walls := map[string]time.Duration{}
	t.Cleanup(func() {
		for _, k := range slices.Sorted(maps.Keys(walls)) {
			t.Logf("wall time, %s: %s", k, walls[k].Round(time.Millisecond))
		}
	})

	// pacRun renders the shipped template for a push of releaseSHA to the component's repository
	// in tenant tn, with PaC's git-auth Secret holding secretToken, as PaC would create it; fill
	// sets params over it (the placeholders a team sets, the node's stand-ins).
	componentRepo := "https://github.com/example/" + Component
	pacRun := func(t *testing.T, tn *Tenant, secretToken string, fill map[string]string) *pipelinev1.PipelineRun {
		t.Helper()
		secret, err := PaCGitAuthSecret(componentRepo, releaseSHA, secretToken)
		require.NoError(t, err)
		_, err = c.Client.CoreV1().Secrets(tn.NS).Create(ctx, secret, metav1.CreateOptions{})
		require.NoError(t, err)
		rendered := tekton.RenderPaC(string(tmpl), map[string]string{
			"revision": releaseSHA, "repo_url": componentRepo, "target_namespace": tn.NS, "git_auth_secret": secret.Name,
			"event_type": "push", "target_branch": "main", "source_branch": "main", "repo_owner": "example", "repo_name": Component,
			"sender": "someone", "pull_request_number": "",
		})
		var pr pipelinev1.PipelineRun
		require.NoError(t, yaml.UnmarshalStrict([]byte(rendered), &pr))
		for _, v := range []string{pr.Namespace, rendered[strings.Index(rendered, "apiVersion:"):]} {
			assert.NotContains(t, v, "{{", "a PaC variable left unrendered")
		}
		assert.Equal(t, tn.NS, pr.Namespace)
		// PaC gives every run of a template its own name.
		if pr.GenerateName == "" {
			pr.GenerateName, pr.Name = pr.Name+"-", ""
		}
		for i := range pr.Spec.Params {
			if v, ok := fill[pr.Spec.Params[i].Name]; ok {
				pr.Spec.Params[i].Value = *pipelinev1.NewStructuredValues(v)
				delete(fill, pr.Spec.Params[i].Name)
			}
		}
		for _, n := range slices.Sorted(maps.Keys(fill)) {
			pr.Spec.Params = append(pr.Spec.Params, pipelinev1.Param{Name: n, Value: *pipelinev1.NewStructuredValues(fill[n])})
		}
		defaultSecrets(ctx, t, c, tn)
		return &pr
	}
	// What the node needs over the PaC run's values: the Quay stand-in, no Alertmanager or
	// app-interface checkout, short waits.
	nodeParams := func(tn *Tenant) map[string]string {
		p := w.Params(tn, releaseSHA)
		delete(p, "commit_sha") // PaC's {{ revision }}
		delete(p, "namespace")  // PaC's {{ target_namespace }}
		return p
	}
	asPaC := func(t *testing.T, tn *Tenant, pr *pipelinev1.PipelineRun) *Run {
		t.Helper()
		created := time.Now()
		got, err := admin.TektonV1().PipelineRuns(tn.NS).Create(ctx, pr, metav1.CreateOptions{})
		require.NoError(t, err, "creating the PaC run as the PaC controller")
		r, err := tn.Await(ctx, got.Name, created, 10*time.Minute, cluster.TestLog(t))
		logRun(ctx, t, c, tn, r)
		require.NoError(t, err)
		return r
	}

	t.Run("on merge: the PaC run of a component repository, Pipeline by the git resolver", func(t *testing.T) {
		tn, _, err := w.SeedTenant(ctx, "start-pac", releaseSHA)
		require.NoError(t, err)
		fill := nodeParams(tn)
		for k, v := range map[string]string{"component": Component, "application": Application,
			"alertmanager_url": "https://alertmanager.example.com", "saas_file": "data/services/aa/cicd/saas.yml"} {
			fill[k] = v
		}
		r := asPaC(t, tn, pacRun(t, tn, token, fill))
		checkReleased(ctx, t, w, tn, r)
		params := map[string]string{}
		for _, p := range r.PR.Spec.Params {
			params[p.Name] = p.Value.StringVal
		}
		assert.Equal(t, releaseSHA, params["commit_sha"], "commit_sha is the pushed {{ revision }}")
		assert.Equal(t, tn.NS, params["namespace"], "namespace is {{ target_namespace }}")
		if prov := r.PR.Status.Provenance; assert.NotNil(t, prov, "Tekton records where the Pipeline came from") && assert.NotNil(t, prov.RefSource) {
			assert.Equal(t, gs.Commit, prov.RefSource.Digest["sha1"], "the Pipeline of the pinned tag's commit")
			assert.Contains(t, prov.RefSource.URI, refParams["url"], "fetched from the URL the run names")
			assert.Equal(t, refParams["pathInRepo"], prov.RefSource.EntryPoint)
		}
		walls["on merge (PaC, git resolver)"] = r.Wall
	})

	t.Run("on merge: without PaC's token the Pipeline cannot be fetched", func(t *testing.T) {
		tn, err := NewTenant(ctx, c, root, "start-pac-token")
		require.NoError(t, err)
		got, err := admin.TektonV1().PipelineRuns(tn.NS).Create(ctx, pacRun(t, tn, "not-the-token", nodeParams(tn)), metav1.CreateOptions{})
		require.NoError(t, err)
		// The git server refuses the clone and the resolver says so. Tekton v1.15.0 then cannot
		// mark the ResolutionRequest failed (its CRD requires status.data, refSource and source,
		// which a failure has not: "error marking resolutionrequest … as failed"), so the run
		// waits in ResolvingPipelineRef, with no TaskRun, until its own timeout.
		resolverLog := filepath.Join(c.Dir, "logs", "tekton-resolvers.log")
		require.NoError(t, c.WaitFor(ctx, "the git resolver to refuse the clone", 2*time.Minute, func(ctx context.Context) (bool, error) {
			b, err := os.ReadFile(resolverLog)
			return err == nil && bytes.Contains(b, []byte(tn.NS+"/")) && bytes.Contains(b, []byte("clone error: authentication required")), nil
		}))
		pr, err := tn.Tekton.TektonV1().PipelineRuns(tn.NS).Get(ctx, got.Name, metav1.GetOptions{})
		require.NoError(t, err)
		cond := pr.Status.GetCondition(apis.ConditionSucceeded)
		require.NotNil(t, cond)
		t.Logf("PipelineRun %s: %s %s: %s", pr.Name, cond.Status, cond.Reason, cond.Message)
		assert.NotEqual(t, corev1.ConditionTrue, cond.Status, "the run did not succeed")
		assert.Contains(t, []string{"ResolvingPipelineRef", pipelinev1.PipelineRunReasonCouldntGetPipeline.String()}, cond.Reason)
		trs, err := tn.Tekton.TektonV1().TaskRuns(tn.NS).List(ctx, metav1.ListOptions{})
		require.NoError(t, err)
		assert.Empty(t, trs.Items, "nothing ran")
	})

	t.Run("on merge: placeholders left as shipped stop the run at check-input", func(t *testing.T) {
		tn, _, err := w.SeedTenant(ctx, "start-pac-unset", releaseSHA)
		require.NoError(t, err)
		fill := nodeParams(tn)
		placeholders := tekton.PaCPlaceholders(&shipped)
		require.NotEmpty(t, placeholders)
		for _, p := range placeholders {
			delete(fill, p) // as shipped
		}
		r := asPaC(t, tn, pacRun(t, tn, token, fill))
		h := historyOf(ctx, t, tn)
		checkStopped(t, r, h, "Rejected", "is a placeholder")
		// check-input's message and result name every placeholder (the history keeps the
		// cause's start: checkStopped).
		if pre := r.TaskRun("preflight"); assert.NotNil(t, pre) {
			logs, err := c.Client.CoreV1().Pods(tn.NS).GetLogs(pre.Status.PodName, &corev1.PodLogOptions{Container: "step-check-input"}).DoRaw(ctx)
			require.NoError(t, err)
			for _, p := range placeholders {
				assert.Contains(t, string(logs), p+" (", "check-input's message names placeholder %s", p)
				assert.Contains(t, taskResults(pre)["INVALID_PARAMS"], p+" (", "INVALID_PARAMS names placeholder %s", p)
			}
		}
		assert.Zero(t, releasesIn(ctx, t, &pipelineWorld{ReleaseWorld: w}, tn))
	})

	// make bundles, as the README gives it, run inside the cluster's network namespace, where
	// its registry is.
	bundles := map[string]string{} // repository → reference by digest
	t.Run("make bundles pushes the bundles with step images pinned by digest", func(t *testing.T) {
		registry := cluster.RegistryHost + "/release-to-prod"
		start := time.Now()
		cmd := exec.CommandContext(ctx, "nsenter", "--net="+c.NetnsPath(), "--", "make", "--no-print-directory", "bundles", "REGISTRY="+registry)
		cmd.Dir = root
		out, err := cmd.CombinedOutput()
		t.Logf("make bundles REGISTRY=%s (%s):\n%s", registry, time.Since(start).Round(time.Millisecond), out)
		require.NoError(t, err)
		line := regexp.MustCompile(`(?m)^✓ (\S+) (sha256:[0-9a-f]{64}) \(.*\) → \S+$`)
		for _, m := range line.FindAllStringSubmatch(string(out), -1) {
			bundles[m[1]] = registry + "/" + m[1] + "@" + m[2]
		}
		require.Contains(t, bundles, "pipeline-release-to-prod")
		data := bundleYAML(ctx, t, c, bundles["pipeline-release-to-prod"])
		images := regexp.MustCompile(`(?m)^\s*(?:-\s*)?image:\s*["']?(\S+?)["']?\s*$`).FindAllStringSubmatch(string(data), -1)
		require.NotEmpty(t, images)
		for _, m := range images {
			assert.Regexp(t, `^`+regexp.QuoteMeta(registry)+`/[a-z0-9-]+:[^@]+@sha256:[0-9a-f]{64}$`, m[1], "step image pinned by digest")
		}
	})

	t.Run("by bundle: the Pipeline's bundle by digest through the bundles resolver", func(t *testing.T) {
		require.Contains(t, bundles, "pipeline-release-to-prod", "make bundles pushed it")
		tn, _, err := w.SeedTenant(ctx, "start-bundle", releaseSHA)
		require.NoError(t, err)
		r := tenantRun(ctx, t, c, tn, &pipelinev1.PipelineRef{ResolverRef: pipelinev1.ResolverRef{Resolver: "bundles", Params: pipelinev1.Params{
			{Name: "bundle", Value: *pipelinev1.NewStructuredValues(bundles["pipeline-release-to-prod"])},
			{Name: "name", Value: *pipelinev1.NewStructuredValues("release-to-prod")},
			{Name: "kind", Value: *pipelinev1.NewStructuredValues("pipeline")},
		}}}, nil, w.Params(tn, releaseSHA))
		checkReleased(ctx, t, w, tn, r)
		if pre := r.TaskRun("preflight"); assert.NotNil(t, pre) {
			pod, err := c.Client.CoreV1().Pods(tn.NS).Get(ctx, pre.Status.PodName, metav1.GetOptions{})
			if assert.NoError(t, err) {
				for _, ctr := range pod.Spec.Containers {
					assert.Contains(t, ctr.Image, "@sha256:", "container %s runs its image by digest", ctr.Name)
				}
			}
		}
		walls["by bundle (bundles resolver)"] = r.Wall
	})

	t.Run("one Task in someone else's Pipeline: check-image and check-vulnerabilities by bundle", func(t *testing.T) {
		for _, b := range []string{"task-check-image", "task-check-vulnerabilities"} {
			require.Contains(t, bundles, b, "make bundles pushed it")
		}
		tn, k, err := w.SeedTenant(ctx, "start-task", releaseSHA)
		require.NoError(t, err)
		imageResult, digestResult := imageResults(t, root)
		byBundle := func(repo, task string) *pipelinev1.TaskRef {
			return &pipelinev1.TaskRef{ResolverRef: pipelinev1.ResolverRef{Resolver: "bundles", Params: pipelinev1.Params{
				{Name: "bundle", Value: *pipelinev1.NewStructuredValues(bundles[repo])},
				{Name: "name", Value: *pipelinev1.NewStructuredValues(task)},
				{Name: "kind", Value: *pipelinev1.NewStructuredValues("task")},
			}}}
		}
		str := func(s string) pipelinev1.ParamValue { return *pipelinev1.NewStructuredValues(s) }
		// A team's own Pipeline: its own param names, the two gates, their results in its own.
		spec := &pipelinev1.PipelineSpec{
			Params: pipelinev1.ParamSpecs{{Name: "revision", Type: pipelinev1.ParamTypeString}, {Name: "tenant", Type: pipelinev1.ParamTypeString},
				{Name: "quay", Type: pipelinev1.ParamTypeString}},
			Tasks: []pipelinev1.PipelineTask{
				{Name: "image", TaskRef: byBundle("task-check-image", "check-image"), Params: pipelinev1.Params{
					{Name: "commit_sha", Value: str("$(params.revision)")}, {Name: "namespace", Value: str("$(params.tenant)")},
					{Name: "component", Value: str(Component)}, {Name: "application", Value: str(Application)}}},
				{Name: "scan", TaskRef: byBundle("task-check-vulnerabilities", "check-vulnerabilities"), Params: pipelinev1.Params{
					{Name: "staging_image", Value: str("$(tasks.image.results." + imageResult + ")")},
					{Name: "pinned_digest", Value: str("$(tasks.image.results." + digestResult + ")")},
					{Name: "quay_api_url", Value: str("$(params.quay)")}, {Name: "scan_poll_timeout", Value: str("30s")}}},
			},
			Results: []pipelinev1.PipelineResult{
				{Name: "digest", Value: str("$(tasks.image.results." + digestResult + ")")},
				{Name: "critical", Value: str("$(tasks.scan.results.CRITICAL_COUNT)")},
			},
		}
		r := tenantRun(ctx, t, c, tn, nil, spec, map[string]string{"revision": releaseSHA, "tenant": tn.NS, "quay": w.QuayURL})
		require.Equal(t, corev1.ConditionTrue, r.Cond.Status, "the team's Pipeline succeeds: %s", r.Cond.Message)
		results := map[string]string{}
		for _, res := range r.PR.Status.Results {
			results[res.Name] = res.Value.StringVal
		}
		assert.Equal(t, k.Digest, results["digest"], "the digest check-image found, in the team's result")
		assert.Equal(t, "0", results["critical"], "the scan's critical count")
		walls["one Task in another Pipeline (2 gates by bundle)"] = r.Wall
	})

	t.Run("by hand: the README's tkn pipeline start", func(t *testing.T) {
		tkn, err := tools.Path(ctx, tools.Tkn, cluster.TestLog(t))
		require.NoError(t, err)
		readme, err := os.ReadFile(filepath.Join(root, "README.md"))
		require.NoError(t, err)
		command, err := readmeCommand(string(readme), "tkn pipeline start -f ")
		require.NoError(t, err)
		t.Logf("the README's command: %s", command)

		tn, _, err := w.SeedTenant(ctx, "start-tkn", releaseSHA)
		require.NoError(t, err)
		// The Secrets under the names the Pipeline mounts by default (the command names none:
		// a Secret bound as a workspace would hang the run when missing), and the claim the
		// command names, as the tenant would have them; the claim holds an app-interface
		// checkout that points production at the commit.
		bound := workspaceBindings(strings.Fields(command))
		for ws, b := range bound {
			assert.Empty(t, b["secret"], "the README binds no Secret as workspace %s", ws)
			assert.Empty(t, b["config"], "the README binds no ConfigMap as workspace %s", ws)
		}
		defaultSecrets(ctx, t, c, tn)
		claim := bound["app-interface"]["claimName"]
		require.NotEmpty(t, claim, "the command binds app-interface to a claim holding a checkout")
		appInterfaceClaim(ctx, t, c, root, tn.NS, claim)
		// Alertmanager over HTTPS (the step sends the monitoring token to nothing else), with no
		// alert firing.
		am, err := c.StartAlertmanager(ctx)
		require.NoError(t, err)
		amURL, err := url.Parse(am.URL)
		require.NoError(t, err)
		proxy := httputil.NewSingleHostReverseProxy(amURL)
		proxy.Transport = c.HTTPClient().Transport // its connections start in the cluster's network namespace
		amAddr, err := c.ServeTLS(proxy)
		require.NoError(t, err)

		// The values, and nothing else, differ from the README's.
		args := strings.Fields(strings.NewReplacer("<tenant-namespace>", tn.NS, "$(git rev-parse HEAD)", releaseSHA,
			"https://alertmanager.example.com", "https://"+amAddr).Replace(command))
		require.Equal(t, "tkn", args[0])
		// quay.io's API is the default the README leaves out; the node's is the stand-in.
		args = append(args, "-p", "quay_api_url="+w.QuayURL)
		kubeconfig := tenantKubeconfig(t, c)
		cmd := exec.CommandContext(ctx, "nsenter", append([]string{"--net=" + c.NetnsPath(), "--", tkn}, args[1:]...)...)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig, "HOME="+t.TempDir())
		start := time.Now()
		out, err := cmd.CombinedOutput()
		wall := time.Since(start)
		t.Logf("tkn (%s, %v):\n%s", wall.Round(time.Millisecond), err, truncate(string(out), 20000))
		require.NoError(t, err)
		m := regexp.MustCompile(`PipelineRun started: (\S+)`).FindStringSubmatch(string(out))
		require.NotNil(t, m, "tkn names the run it started")
		r, err := tn.Await(ctx, m[1], start, 10*time.Minute, cluster.TestLog(t))
		logRun(ctx, t, c, tn, r)
		require.NoError(t, err)
		r.Posts = tn.Posts() // sent while tkn followed the run, before Await: the namespace's only run
		checkReleased(ctx, t, w, tn, r)
		assert.NotNil(t, r.PR.Spec.PipelineSpec, "tkn -f embeds the Pipeline in the run")
		walls["by hand (tkn pipeline start -f, --showlog)"] = wall
	})
}

// checkReleased holds a run to what a release is: succeeded, reported, one Release, the
// history saying Succeeded, Slack told.
func checkReleased(ctx context.Context, t *testing.T, w *ReleaseWorld, tn *Tenant, r *Run) {
	t.Helper()
	require.NotNil(t, r.Cond)
	assert.Equal(t, corev1.ConditionTrue, r.Cond.Status, "the run releases: %s %s", r.Cond.Reason, r.Cond.Message)
	assert.True(t, r.Reported(), "the finally task report ran and succeeded")
	assert.Equal(t, 1, releasesIn(ctx, t, &pipelineWorld{ReleaseWorld: w}, tn), "one Release")
	if h := historyOf(ctx, t, tn); assert.Len(t, h, 1) {
		assert.Equal(t, "Succeeded", h[0].Status)
	}
	if assert.Len(t, r.Posts, 1, "Slack was told once") {
		assert.Contains(t, r.Posts[0], "Released")
	}
}

// tenantRun creates a PipelineRun as the tenant user — of ref or of spec — with params and
// ServiceAccount release-to-prod, and follows it.
func tenantRun(ctx context.Context, t *testing.T, c *cluster.Cluster, tn *Tenant, ref *pipelinev1.PipelineRef, spec *pipelinev1.PipelineSpec, params map[string]string) *Run {
	t.Helper()
	var ps pipelinev1.Params
	for _, n := range slices.Sorted(maps.Keys(params)) {
		ps = append(ps, pipelinev1.Param{Name: n, Value: *pipelinev1.NewStructuredValues(params[n])})
	}
	pr := &pipelinev1.PipelineRun{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "start-"},
		Spec: pipelinev1.PipelineRunSpec{PipelineRef: ref, PipelineSpec: spec, Params: ps,
			TaskRunTemplate: pipelinev1.PipelineTaskRunTemplate{ServiceAccountName: "release-to-prod"}},
	}
	if spec == nil {
		// The release Pipeline, bound as the README binds it: only create-release may create a
		// Release.
		pr.Spec.TaskRunSpecs = []pipelinev1.PipelineTaskRunSpec{{PipelineTaskName: "create-release", ServiceAccountName: "release-to-prod-releaser"}}
	}
	created := time.Now()
	got, err := tn.Tekton.TektonV1().PipelineRuns(tn.NS).Create(ctx, pr, metav1.CreateOptions{})
	require.NoError(t, err, "creating the run as the tenant")
	r, err := tn.Await(ctx, got.Name, created, 10*time.Minute, cluster.TestLog(t))
	logRun(ctx, t, c, tn, r)
	require.NoError(t, err)
	return r
}

// logRun logs a run's outcome and its TaskRuns (logTaskRun).
func logRun(ctx context.Context, t *testing.T, c *cluster.Cluster, tn *Tenant, r *Run) {
	t.Helper()
	if r == nil {
		return
	}
	if r.Cond != nil {
		t.Logf("PipelineRun %s: %s %s: %s — wall time %s", r.PR.Name, r.Cond.Status, r.Cond.Reason, truncate(r.Cond.Message, 1500), r.Wall.Round(time.Millisecond))
	}
	for _, tr := range r.TaskRuns {
		logTaskRun(ctx, t, c, tn.NS, &tr)
	}
	for _, p := range r.Posts {
		t.Logf("Slack post: %s", truncate(p, 600))
	}
}

// defaultSecrets creates the Secrets the Pipeline mounts under their default names, as the PaC
// run's comments and the README ask a team to: pull credentials (none needed here), a
// monitoring token, the Slack webhook (the tenant's sink).
func defaultSecrets(ctx context.Context, t *testing.T, c *cluster.Cluster, tn *Tenant) {
	t.Helper()
	for _, name := range []string{"release-to-prod-registry", "release-to-prod-monitoring-token", "release-to-prod-slack-webhook"} {
		createSecret(ctx, t, c, tn, name)
	}
}

// createSecret creates default-named Secret name, unless it exists.
func createSecret(ctx context.Context, t *testing.T, c *cluster.Cluster, tn *Tenant, name string) {
	t.Helper()
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name}}
	switch name {
	case "release-to-prod-registry":
		s.Type = corev1.SecretTypeDockerConfigJson
		s.StringData = map[string]string{corev1.DockerConfigJsonKey: `{"auths":{}}`}
	case "release-to-prod-monitoring-token":
		s.StringData = map[string]string{"token": "monitoring-token-of-the-test"}
	case "release-to-prod-slack-webhook":
		s.StringData = map[string]string{"url": tn.SlackURL}
	default:
		t.Fatalf("no default Secret %s", name)
	}
	if _, err := c.Client.CoreV1().Secrets(tn.NS).Create(ctx, s, metav1.CreateOptions{}); err != nil && !strings.Contains(err.Error(), "already exists") {
		require.NoError(t, err)
	}
}

// appInterfaceClaim creates claim in namespace, bound to a volume on the node holding the
// app-interface fixture (its production target deploys releaseSHA): a team's claim with a
// checkout its own job keeps fresh.
func appInterfaceClaim(ctx context.Context, t *testing.T, c *cluster.Cluster, root, namespace, claim string) {
	t.Helper()
	dir := filepath.Join(c.Dir, "volumes", namespace+"-"+claim)
	require.NoError(t, os.CopyFS(dir, os.DirFS(filepath.Join(root, "pkg", "gates", "appinterface", "testdata", "app-interface"))))
	// The steps run as a non-root user: the checkout must be readable to it.
	require.NoError(t, filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		mode := os.FileMode(0o644)
		if d.IsDir() {
			mode = 0o755
		}
		return os.Chmod(p, mode)
	}))
	size := resource.MustParse("10Mi")
	pv := &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: namespace + "-" + claim},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: size},
			AccessModes:                   []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimRetain,
			StorageClassName:              "",
			ClaimRef:                      &corev1.ObjectReference{Namespace: namespace, Name: claim},
			PersistentVolumeSource:        corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: dir}},
		},
	}
	_, err := c.Client.CoreV1().PersistentVolumes().Create(ctx, pv, metav1.CreateOptions{})
	require.NoError(t, err)
	empty := ""
	pvc := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: claim},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			StorageClassName: &empty,
			VolumeName:       pv.Name,
			Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: size}},
		},
	}
	_, err = c.Client.CoreV1().PersistentVolumeClaims(namespace).Create(ctx, pvc, metav1.CreateOptions{})
	require.NoError(t, err)
	require.NoError(t, c.WaitFor(ctx, "claim "+claim+" bound", time.Minute, func(ctx context.Context) (bool, error) {
		got, err := c.Client.CoreV1().PersistentVolumeClaims(namespace).Get(ctx, claim, metav1.GetOptions{})
		return err == nil && got.Status.Phase == corev1.ClaimBound, nil
	}))
}

// tenantKubeconfig writes a kubeconfig that acts as the tenant admin (the cluster admin's
// certificate, impersonating TenantAdminUser, bound to Konflux's admin role by NewTenant): on
// hosted Konflux only a tenant admin may create PipelineRuns. What tkn runs with.
func tenantKubeconfig(t *testing.T, c *cluster.Cluster) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(c.Dir, "kubeconfig"))
	require.NoError(t, err)
	cfg := strings.Replace(string(b), "  user:\n", "  user:\n    as: "+TenantAdminUser+"\n    as-groups: [\"system:authenticated\"]\n", 1)
	require.NotEqual(t, string(b), cfg)
	path := filepath.Join(t.TempDir(), "kubeconfig")
	require.NoError(t, os.WriteFile(path, []byte(cfg), 0o600))
	return path
}

// readmeCommand returns the shell command of README.md that starts with prefix, its
// continuation lines joined.
func readmeCommand(readme, prefix string) (string, error) {
	sc := bufio.NewScanner(strings.NewReader(readme))
	var cmd strings.Builder
	in := false
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if !in && !strings.HasPrefix(line, prefix) {
			continue
		}
		in = true
		cont := strings.HasSuffix(line, "\\")
		cmd.WriteString(strings.TrimSuffix(line, "\\") + " ")
		if !cont {
			break
		}
	}
	if !in {
		return "", fmt.Errorf("README.md has no command starting %q", prefix)
	}
	return strings.Join(strings.Fields(cmd.String()), " "), nil
}

// workspaceBindings reads the -w flags of a tkn command: workspace → key → value.
func workspaceBindings(args []string) map[string]map[string]string {
	out := map[string]map[string]string{}
	for i := 0; i+1 < len(args); i++ {
		if args[i] != "-w" && args[i] != "--workspace" {
			continue
		}
		kv := map[string]string{}
		for _, part := range strings.Split(args[i+1], ",") {
			k, v, _ := strings.Cut(part, "=")
			kv[k] = v
		}
		out[kv["name"]] = kv
	}
	return out
}

// imageResults names check-image's results that carry the staging repository and the digest,
// read from its Task: the names a team's Pipeline refers to.
func imageResults(t *testing.T, root string) (image, digest string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "tasks", "check-image", "0.1", "check-image.yaml"))
	require.NoError(t, err)
	var task pipelinev1.Task
	require.NoError(t, yaml.Unmarshal(b, &task))
	for _, r := range task.Spec.Results {
		switch {
		case digest == "" && strings.HasSuffix(r.Name, "_DIGEST"):
			digest = r.Name
		case image == "" && (strings.HasSuffix(r.Name, "_URL") || strings.HasSuffix(r.Name, "_IMAGE")):
			image = r.Name
		}
	}
	require.NotEmpty(t, image, "check-image has a result with the staging repository")
	require.NotEmpty(t, digest, "check-image has a result with the digest")
	return image, digest
}

// bundleYAML returns the YAML of every layer of a bundle in the cluster's registry.
func bundleYAML(ctx context.Context, t *testing.T, c *cluster.Cluster, ref string) []byte {
	t.Helper()
	r, err := name.ParseReference(ref, name.Insecure)
	require.NoError(t, err)
	img, err := remote.Image(r, c.Registry.RemoteOptions(ctx)...)
	require.NoError(t, err)
	layers, err := img.Layers()
	require.NoError(t, err)
	var all bytes.Buffer
	for _, l := range layers {
		rc, err := l.Uncompressed()
		require.NoError(t, err)
		tr := tar.NewReader(rc)
		for {
			_, err := tr.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			require.NoError(t, err)
			_, err = io.Copy(&all, tr)
			require.NoError(t, err)
			all.WriteString("\n")
		}
		rc.Close()
	}
	return all.Bytes()
}

func randomHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return hex.EncodeToString(b)
}
