package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/release-to-prod/release-to-prod/pkg/actions/history"
	"github.com/release-to-prod/release-to-prod/pkg/build/tekton"
	"github.com/release-to-prod/release-to-prod/pkg/localrun/runner"
	"github.com/release-to-prod/release-to-prod/test/sandbox"
	"github.com/release-to-prod/release-to-prod/test/tools"
)

// pipelineSHA is the commit the Pipeline tests release: the app-interface fixture's production
// target deploys it.
const pipelineSHA = "3f786850e387550fdab836ed7e6dc881de23001b"

// pipelineKit is what every Pipeline test shares: one sandbox (API server, registry with the
// Quay stand-in), one Alertmanager, one Slack sink, one release-service stand-in, the step
// binaries and the Pipeline. Cases stay independent through their own namespace (and so their
// own repository, Releases and history), their own alert label and their own webhook.
type pipelineKit struct {
	s        *sandbox.Sandbox
	am       *sandbox.Alertmanager
	slack    *sandbox.SlackSink
	rs       *sandbox.ReleaseService
	repo     *tekton.Repo
	pipeline *v1.Pipeline
	binDir   string
	dir      string // app-interface checkout
	checkout string

	// Every secret value any run was given; every run's output and files are checked for them.
	mu      sync.Mutex
	secrets map[string]string // value → what it is
	runs    int
	hostile int // hostile param values run
	scanned int // files and outputs checked for secrets
	bytes   int64
}

func newPipelineKit(t *testing.T) *pipelineKit {
	t.Helper()
	s := sandbox.New(t)
	k := &pipelineKit{s: s, am: sandbox.StartAlertmanager(t), slack: sandbox.StartSlackSink(t), secrets: map[string]string{}, dir: t.TempDir()}
	k.binDir = filepath.Dir(stepBinary(t, "check-image"))
	root, err := tools.Root()
	require.NoError(t, err)
	k.repo, err = tekton.Load(root)
	require.NoError(t, err)
	require.NoError(t, k.repo.Validate(context.Background()))
	k.pipeline = k.repo.Pipelines["release-to-prod"]
	require.NotNil(t, k.pipeline, "pipelines/release-to-prod")
	k.checkout = copyTree(t, filepath.Join(root, "pkg", "gates", "appinterface", "testdata", "app-interface"), filepath.Join(k.dir, "app-interface"))
	k.rs = s.StartReleaseService(150 * time.Millisecond)
	t.Cleanup(k.rs.Stop)
	return k
}

// canary returns a new unique secret value and remembers it for the leak checks.
func (k *pipelineKit) canary(what string) string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	v := "canary" + hex.EncodeToString(b)
	k.mu.Lock()
	defer k.mu.Unlock()
	k.secrets[v] = what
	return v
}

// secret creates (or replaces) Secret name in namespace ns with data, in the sandbox's API
// server: the Pipeline's Tasks mount their Secrets by name, and the local runner reads them
// from there as the kubelet would.
func (k *pipelineKit) secret(t *testing.T, ns, name string, data map[string]string) {
	t.Helper()
	k.object(t, ns, "secrets", name, map[string]any{"apiVersion": "v1", "kind": "Secret", "stringData": toAny(data)})
}

// configMap creates (or replaces) ConfigMap name in namespace ns with data.
func (k *pipelineKit) configMap(t *testing.T, ns, name string, data map[string]string) {
	t.Helper()
	k.object(t, ns, "configmaps", name, map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "data": toAny(data)})
}

// deleteSecret deletes Secret name in namespace ns (absent already is fine).
func (k *pipelineKit) deleteSecret(t *testing.T, ns, name string) {
	t.Helper()
	err := k.s.Dynamic.Resource(schema.GroupVersionResource{Version: "v1", Resource: "secrets"}).Namespace(ns).Delete(context.Background(), name, metav1.DeleteOptions{})
	if !apierrors.IsNotFound(err) {
		require.NoError(t, err)
	}
}

func (k *pipelineKit) object(t *testing.T, ns, resource, name string, obj map[string]any) {
	t.Helper()
	u := &unstructured.Unstructured{Object: obj}
	u.SetName(name)
	u.SetNamespace(ns)
	res := k.s.Dynamic.Resource(schema.GroupVersionResource{Version: "v1", Resource: resource}).Namespace(ns)
	err := res.Delete(context.Background(), name, metav1.DeleteOptions{})
	if !apierrors.IsNotFound(err) {
		require.NoError(t, err)
	}
	_, err = res.Create(context.Background(), u, metav1.CreateOptions{})
	require.NoError(t, err)
}

func toAny(m map[string]string) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		out[k] = v
	}
	return out
}

// pipelineTenant is one case's world: a seeded namespace, its webhook, its secrets.
type pipelineTenant struct {
	*sandbox.Tenant
	QuayRepo   string // the repository path in the Quay API
	Hook       *sandbox.SlackWebhook
	QuayToken  string                      // in the Secret release-to-prod-quay-token
	Workspaces map[string]runner.Workspace // the app-interface checkout
	AlertCase  string                      // the value of the "case" label that selects this case's alerts
}

// tenant seeds namespace ns (multi-arch image unless o says otherwise), answers Quay with a
// clean scan for the index and each platform, creates the Secrets of the webhook, the Quay token
// and the monitoring token (canaries) under their default names, and binds the app-interface
// checkout.
func (k *pipelineKit) tenant(t *testing.T, ns string, o sandbox.TenantOptions) *pipelineTenant {
	t.Helper()
	o.Namespace = ns
	if o.SHA == "" {
		o.SHA = pipelineSHA
	}
	if o.Platforms == nil {
		o.Platforms = []string{"linux/amd64", "linux/arm64"}
	}
	tn, err := k.s.SeedTenant(context.Background(), o)
	require.NoError(t, err)
	pt := &pipelineTenant{Tenant: tn, QuayRepo: strings.TrimPrefix(tn.Repository, k.s.Registry.Host+"/"), AlertCase: ns}
	// Quay scans images, not indexes: it answers "unsupported" for the index, as quay.io does.
	if tn.Digest != "" {
		k.s.Registry.Quay.SetSecurity(pt.QuayRepo, tn.Digest, cleanScan())
		if len(tn.Platforms) > 0 {
			k.s.Registry.Quay.SetSecurity(pt.QuayRepo, tn.Digest, sandbox.QuayStatus("unsupported"))
		}
		for _, d := range sortedValues(tn.Platforms) {
			k.s.Registry.Quay.SetSecurity(pt.QuayRepo, d, cleanScan())
		}
	}
	pt.Hook = k.slack.Webhook(k.canary("Slack webhook path of " + ns))
	pt.QuayToken = k.canary("Quay token of " + ns)
	k.secret(t, ns, "release-to-prod-slack-webhook", map[string]string{"url": pt.Hook.URL + "\n"})
	k.secret(t, ns, "release-to-prod-quay-token", map[string]string{"token": pt.QuayToken})
	k.secret(t, ns, "release-to-prod-monitoring-token", map[string]string{"token": k.canary("monitoring token of " + ns)})
	pt.Workspaces = map[string]runner.Workspace{"app-interface": {Kind: "dir", Path: k.checkout}}
	return pt
}

func cleanScan() sandbox.Reply {
	return sandbox.QuayScanned(sandbox.QuayFeature{Name: "zlib", Version: "1.2.11-40.el9",
		Vulnerabilities: []sandbox.QuayVulnerability{{Name: "CVE-2023-45853", Severity: "Low"}}})
}

// params are the PipelineRun's params for the tenant, kv overriding them ("name", "value", …).
func (k *pipelineKit) params(tn *pipelineTenant, kv ...string) map[string]string {
	p := map[string]string{
		"commit_sha":        tn.SHA,
		"namespace":         tn.Namespace,
		"component":         tn.Component,
		"application":       tn.Application,
		"alertmanager_url":  k.am.URL,
		"alert_matchers":    fmt.Sprintf(`environment="production",case=%q`, tn.AlertCase),
		"quay_api_url":      k.s.Registry.URL,
		"saas_file":         "data/services/aa/cicd/saas.yml",
		"progress_interval": "500ms",
		"release_timeout":   "2m",
		"scan_poll_timeout": "30s",
	}
	for i := 0; i+1 < len(kv); i += 2 {
		p[kv[i]] = kv[i+1]
	}
	return p
}

// pipelineRun is one finished run of the Pipeline through the local runner.
type pipelineRun struct {
	*runner.Outcome
	Err    error  // the run could not happen (invalid params, …)
	Output string // the runner's whole log, steps' output included
	Files  map[string]string
}

// run runs the Pipeline in process with the local runner and checks, whatever the case, that
// none of the secrets handed to any run so far is in its output or in any file it left
// (results, termination messages, exit codes).
func (k *pipelineKit) run(t *testing.T, params map[string]string, workspaces map[string]runner.Workspace, opts ...func(*runner.Options)) *pipelineRun {
	t.Helper()
	names := make([]string, 0, len(params))
	for n := range params {
		names = append(names, n)
	}
	sort.Strings(names)
	var ps v1.Params
	for _, n := range names {
		ps = append(ps, v1.Param{Name: n, Value: *v1.NewStructuredValues(params[n])})
	}
	ws := map[string]runner.Workspace{}
	for n, w := range workspaces {
		ws[n] = w
	}
	k.mu.Lock()
	k.runs++
	name := fmt.Sprintf("release-to-prod-e2e-%03d", k.runs)
	k.mu.Unlock()
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	start := time.Now()
	ro := runner.Options{
		Repo: k.repo, Pipeline: k.pipeline, Params: ps, Workspaces: ws, Kubeconfig: k.s.Kubeconfig,
		BinDir: k.binDir, WorkDir: t.TempDir(), Name: name, Out: &out, ShowLog: true,
	}
	for _, opt := range opts {
		opt(&ro)
	}
	o, err := runner.Run(ctx, ro)
	r := &pipelineRun{Outcome: o, Err: err, Output: out.String(), Files: map[string]string{}}
	if err != nil {
		r.Output += "\nrunner error: " + err.Error()
	}
	t.Logf("PipelineRun %s (%s):\n%s", name, time.Since(start).Round(time.Millisecond), r.Output)
	if o != nil && o.WorkDir != "" {
		require.NoError(t, filepath.WalkDir(o.WorkDir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(o.WorkDir, p)
			r.Files[rel] = string(b)
			return nil
		}))
	}
	k.checkNoSecret(t, name+" output", r.Output)
	for p, b := range r.Files {
		k.checkNoSecret(t, name+" file "+p, b)
	}
	return r
}

func (k *pipelineKit) checkNoSecret(t *testing.T, where, text string) {
	t.Helper()
	k.mu.Lock()
	defer k.mu.Unlock()
	k.scanned++
	k.bytes += int64(len(text))
	for v, what := range k.secrets {
		if strings.Contains(text, v) {
			t.Errorf("SECRET LEAK: %s contains the %s", where, what)
		}
	}
}

// task returns what happened to a pipeline task ("" status when it is not in the outcome).
func (r *pipelineRun) task(name string) runner.TaskOutcome {
	if r.Outcome != nil {
		for _, t := range r.Tasks {
			if t.Name == name {
				return t
			}
		}
	}
	return runner.TaskOutcome{Name: name}
}

// statuses returns "preflight=Succeeded create-release=Skipped report=Succeeded".
func (r *pipelineRun) statuses() string {
	var parts []string
	if r.Outcome != nil {
		for _, t := range r.Tasks {
			parts = append(parts, t.Name+"="+t.Status)
		}
	}
	return strings.Join(parts, " ")
}

// result returns a PipelineRun result.
func (r *pipelineRun) result(name string) (string, bool) {
	if r.Outcome != nil {
		for _, res := range r.Results {
			if res.Name == name {
				return res.Value.StringVal, true
			}
		}
	}
	return "", false
}

// taskResult returns a result of a pipeline task.
func (r *pipelineRun) taskResult(task, name string) string {
	for _, res := range r.task(task).Results {
		if res.Name == name {
			return res.Value.StringVal
		}
	}
	return ""
}

func (r *pipelineRun) reason() string {
	if r.Outcome == nil || r.Condition == nil {
		return ""
	}
	return r.Condition.Reason
}

// releasesIn lists the Releases of a namespace.
func (k *pipelineKit) releasesIn(t *testing.T, ns string) []unstructured.Unstructured {
	t.Helper()
	list, err := k.s.Dynamic.Resource(sandbox.Releases).Namespace(ns).List(context.Background(), metav1.ListOptions{})
	require.NoError(t, err)
	return list.Items
}

// historyOf returns the release history of a namespace, nil when it has none.
func (k *pipelineKit) historyOf(t *testing.T, ns string) []history.Entry {
	t.Helper()
	cm, err := k.s.Dynamic.Resource(sandbox.ConfigMaps).Namespace(ns).Get(context.Background(), "release-history", metav1.GetOptions{})
	if err != nil {
		return nil
	}
	data, _, _ := unstructured.NestedString(cm.Object, "data", history.Key)
	entries, err := history.Decode(data)
	require.NoError(t, err)
	return entries
}

func sortedValues(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = m[k]
	}
	return out
}

// copyTree copies a folder (the app-interface fixture) and returns the copy's path.
func copyTree(t *testing.T, src, dst string) string {
	t.Helper()
	require.NoError(t, os.CopyFS(dst, os.DirFS(src)))
	return dst
}

// slackTexts returns every string of the posts' JSON (the fallback text and each block's
// text), joined by newlines: what a reader of the channel sees, in Slack's mrkdwn.
func slackTexts(t *testing.T, posts []sandbox.SlackPost) string {
	t.Helper()
	var out []string
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case string:
			out = append(out, x)
		case []any:
			for _, e := range x {
				walk(e)
			}
		case map[string]any:
			keys := make([]string, 0, len(x))
			for k := range x {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				walk(x[k])
			}
		}
	}
	for _, p := range posts {
		var v any
		require.NoError(t, json.Unmarshal([]byte(p.Body), &v), "Slack post is JSON: %s", p.Body)
		walk(v)
	}
	return strings.Join(out, "\n")
}
