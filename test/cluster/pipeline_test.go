package cluster

import (
	"context"
	"io"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"knative.dev/pkg/apis"
	"sigs.k8s.io/yaml"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	pipelinev1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	tektonclient "github.com/tektoncd/pipeline/pkg/client/clientset/versioned"

	"github.com/release-to-prod/release-to-prod/pkg/imagebuild"
	"github.com/release-to-prod/release-to-prod/test/tools"
)

// TestPipelineFailuresOnNode runs the generated release-to-prod Pipeline on the node: step
// images built from this checkout and served as quay.io/release-to-prod/<step>:0.1.0, the
// project's RBAC, a PipelineRun created by a tenant in a restricted namespace, Slack an HTTPS
// sink in the test. Each scenario stops the run before a release; in each, the finally task report
// must run and the history and Slack must say what happened.
func TestPipelineFailuresOnNode(t *testing.T) {
	if testing.Short() {
		t.Skip("cluster: starts a Kubernetes node and the Tekton controller; not run with -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Minute)
	defer cancel()
	c := New(t, Options{Mirrors: []string{"quay.io"}})
	root, err := tools.Root()
	require.NoError(t, err)

	buildStart := time.Now()
	pushStepImages(ctx, t, c, root)
	t.Logf("step images built (linux/%s) and pushed: %s", runtime.GOARCH, time.Since(buildStart).Round(time.Millisecond))

	b, err := os.ReadFile(filepath.Join(root, "pipelines", "release-to-prod", "0.1", "release-to-prod.yaml"))
	require.NoError(t, err)
	var p pipelinev1.Pipeline
	require.NoError(t, yaml.UnmarshalStrict(b, &p))

	for _, sc := range []struct {
		name, ns, sha string
		mutate        func(*pipelinev1.PipelineSpec)
		// What the history and the Slack post must say.
		status, cause string
	}{
		{name: "invalid input", ns: "tenant-invalid", sha: "not-a-sha", status: "Rejected", cause: "commit_sha"},
		{name: "step image cannot be pulled", ns: "tenant-pull", sha: "0123456789abcdef0123456789abcdef01234567",
			status: "Blocked", cause: "cannot be pulled",
			mutate: func(s *pipelinev1.PipelineSpec) {
				for i := range s.Tasks {
					for j := range s.Tasks[i].TaskSpec.Steps {
						if st := &s.Tasks[i].TaskSpec.Steps[j]; st.Name == "check-alerts" {
							st.Image = "quay.io/release-to-prod/check-alerts:never-pushed"
						}
					}
				}
			}},
	} {
		t.Run(sc.name, func(t *testing.T) {
			spec := p.Spec.DeepCopy()
			if sc.mutate != nil {
				sc.mutate(spec)
			}
			runFailingPipeline(ctx, t, c, root, sc.ns, sc.sha, spec, sc.status, sc.cause)
		})
	}
}

func runFailingPipeline(ctx context.Context, t *testing.T, c *Cluster, root, ns, sha string, spec *pipelinev1.PipelineSpec, status, cause string) {
	tn := newNodeTenant(ctx, t, c, root, ns)
	r := tn.run(ctx, t, c, spec, map[string]string{"commit_sha": sha, "namespace": ns})
	assert.Equal(t, corev1.ConditionFalse, r.Cond.Status, "the run must fail")
	assert.True(t, r.reported(), "the finally task report must run and succeed")
	for k, v := range tn.historyData(ctx, t, c) {
		t.Logf("history %s: %s", k, truncate(v, 600))
		assert.NotContains(t, v, "$(", "history entry with an unsubstituted Tekton reference")
		assert.Contains(t, v, `"status":"`+status+`"`)
		assert.Contains(t, v, cause, "the history says why")
	}
	if assert.Len(t, r.Posts, 1) {
		assert.Contains(t, r.Posts[0], cause, "Slack says why")
	}
}

// nodeTenant is a restricted tenant namespace with the project's RBAC, a Slack sink over HTTPS
// bound as the slack-webhook Secret, and a Tekton client acting with the tenant's rights only.
type nodeTenant struct {
	ns     string
	tekton tektonclient.Interface

	mu    sync.Mutex
	posts []string
}

func newNodeTenant(ctx context.Context, t *testing.T, c *Cluster, root, ns string) *nodeTenant {
	t.Helper()
	require.NoError(t, c.RestrictedNamespace(ctx, ns))
	for _, f := range []string{"serviceaccount.yaml", "role.yaml", "rolebinding.yaml"} {
		require.NoError(t, c.ApplyFile(ctx, ns, filepath.Join(root, "config", "rbac", f)))
	}
	tn := &nodeTenant{ns: ns}
	sink, err := c.ServeTLS(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		tn.mu.Lock()
		tn.posts = append(tn.posts, string(b))
		tn.mu.Unlock()
		_, _ = w.Write([]byte("ok"))
	}))
	require.NoError(t, err)
	_, err = c.Client.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "slack-webhook"},
		StringData: map[string]string{"url": "https://" + sink + "/services/T000/B000/XXXX"},
	}, metav1.CreateOptions{})
	require.NoError(t, err)
	tenantCfg, err := c.Tenant(ctx, ns, "tenant-user")
	require.NoError(t, err)
	tn.tekton, err = tektonclient.NewForConfig(tenantCfg)
	require.NoError(t, err)
	return tn
}

// nodeRun is one finished PipelineRun.
type nodeRun struct {
	PR       *pipelinev1.PipelineRun
	Cond     *apis.Condition
	TaskRuns []pipelinev1.TaskRun
	Posts    []string // what Slack was sent during this run
	Wall     time.Duration
}

// reported says whether the finally task report ran and succeeded.
func (r *nodeRun) reported() bool {
	for _, tr := range r.TaskRuns {
		if tr.Labels["tekton.dev/pipelineTask"] == "report" {
			rc := tr.Status.GetCondition(apis.ConditionSucceeded)
			return rc != nil && rc.Status == corev1.ConditionTrue
		}
	}
	return false
}

// taskRun returns the TaskRun of the pipeline task named task, nil when there is none.
func (r *nodeRun) taskRun(task string) *pipelinev1.TaskRun {
	for i := range r.TaskRuns {
		if r.TaskRuns[i].Labels["tekton.dev/pipelineTask"] == task {
			return &r.TaskRuns[i]
		}
	}
	return nil
}

// run creates a PipelineRun of spec with params as the tenant, waits for it to end, logs its
// TaskRuns and wall time, and checks what every run must do: no unsubstituted Tekton reference
// in a Slack post.
func (tn *nodeTenant) run(ctx context.Context, t *testing.T, c *Cluster, spec *pipelinev1.PipelineSpec, params map[string]string) *nodeRun {
	t.Helper()
	tn.mu.Lock()
	before := len(tn.posts)
	tn.mu.Unlock()
	var ps pipelinev1.Params
	for _, n := range slices.Sorted(maps.Keys(params)) {
		ps = append(ps, pipelinev1.Param{Name: n, Value: *pipelinev1.NewStructuredValues(params[n])})
	}
	pr := &pipelinev1.PipelineRun{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "release-to-prod-"},
		Spec: pipelinev1.PipelineRunSpec{
			PipelineSpec: spec,
			Params:       ps,
			Workspaces: []pipelinev1.WorkspaceBinding{
				{Name: "slack-webhook", Secret: &corev1.SecretVolumeSource{SecretName: "slack-webhook"}},
			},
			TaskRunTemplate: pipelinev1.PipelineTaskRunTemplate{ServiceAccountName: "release-to-prod"},
		},
	}
	created := time.Now()
	pr, err := tn.tekton.TektonV1().PipelineRuns(tn.ns).Create(ctx, pr, metav1.CreateOptions{})
	require.NoError(t, err)
	err = c.waitFor(ctx, "PipelineRun "+pr.Name+" done", 10*time.Minute, func(ctx context.Context) (bool, error) {
		got, err := tn.tekton.TektonV1().PipelineRuns(tn.ns).Get(ctx, pr.Name, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		pr = got
		return pr.IsDone(), nil
	})
	r := &nodeRun{PR: pr, Wall: time.Since(created)}
	trs, lerr := tn.tekton.TektonV1().TaskRuns(tn.ns).List(ctx, metav1.ListOptions{LabelSelector: "tekton.dev/pipelineRun=" + pr.Name})
	require.NoError(t, lerr)
	r.TaskRuns = trs.Items
	for _, tr := range r.TaskRuns {
		logTaskRun(ctx, t, c, tn.ns, &tr)
	}
	require.NoError(t, err)
	r.Cond = pr.Status.GetCondition(apis.ConditionSucceeded)
	require.NotNil(t, r.Cond)
	t.Logf("PipelineRun %s: %s %s: %s — wall time %s", pr.Name, r.Cond.Status, r.Cond.Reason, r.Cond.Message, r.Wall.Round(time.Millisecond))
	tn.mu.Lock()
	r.Posts = append([]string(nil), tn.posts[before:]...)
	tn.mu.Unlock()
	assert.NotEmpty(t, r.Posts, "Slack was told")
	for _, p := range r.Posts {
		t.Logf("Slack post: %s", truncate(p, 600))
		// A result a step did not write stays in the text as Tekton's literal reference.
		assert.NotContains(t, p, "$(", "Slack post with an unsubstituted Tekton reference")
	}
	return r
}

// historyData returns the data of the tenant's history ConfigMap.
func (tn *nodeTenant) historyData(ctx context.Context, t *testing.T, c *Cluster) map[string]string {
	t.Helper()
	cm, err := c.Client.CoreV1().ConfigMaps(tn.ns).Get(ctx, "release-history", metav1.GetOptions{})
	require.NoError(t, err, "the history records the run")
	return cm.Data
}

// logTaskRun logs a TaskRun's outcome, its pod's termination-message budget, and the log of
// every step that did not exit 0 and of every step of report.
func logTaskRun(ctx context.Context, t *testing.T, c *Cluster, ns string, tr *pipelinev1.TaskRun) {
	if cond := tr.Status.GetCondition(apis.ConditionSucceeded); cond != nil {
		t.Logf("TaskRun %s: %s %s: %s", tr.Name, cond.Status, cond.Reason, truncate(cond.Message, 400))
	}
	if pod, err := c.Client.CoreV1().Pods(ns).Get(ctx, tr.Status.PodName, metav1.GetOptions{}); err == nil {
		n := len(pod.Spec.Containers) + len(pod.Spec.InitContainers)
		t.Logf("  pod %s: %d containers: the kubelet keeps %d bytes of each termination message", pod.Name, n, podTerminationMessageCap/n)
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

// pushStepImages builds every step's image for the node's platform from this checkout and
// pushes it as release-to-prod/<step>:0.1.0, which the node pulls as quay.io/release-to-prod/….
// The images trust the cluster's CA besides the host's, as an organisation's images trust its
// private CA: the Slack stand-in is served over HTTPS with a certificate from it.
func pushStepImages(ctx context.Context, t *testing.T, c *Cluster, root string) {
	t.Helper()
	steps, err := imagebuild.Steps(root)
	require.NoError(t, err)
	certs, err := imagebuild.ReadCACerts(hostCACerts)
	require.NoError(t, err)
	certs = append(append(certs, '\n'), c.CACert()...)
	b := &imagebuild.Builder{RepoRoot: root, CACerts: certs, Platforms: []v1.Platform{{OS: "linux", Architecture: runtime.GOARCH}},
		Meta: imagebuild.Metadata{Version: "0.1.0", Created: imageEpoch}}
	for _, s := range steps {
		built, err := b.Build(ctx, s)
		require.NoError(t, err)
		_, err = c.Registry.PushIndex(ctx, "release-to-prod/"+s, "0.1.0", built.Index)
		require.NoError(t, err)
	}
}
