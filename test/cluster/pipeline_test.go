package cluster

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"knative.dev/pkg/apis"

	pipelinev1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"

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

	p, err := ReadPipeline(root)
	require.NoError(t, err)

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

// nodeTenant is a Tenant for a test.
type nodeTenant struct{ *Tenant }

func newNodeTenant(ctx context.Context, t *testing.T, c *Cluster, root, ns string) *nodeTenant {
	t.Helper()
	tn, err := c.NewTenant(ctx, root, ns)
	require.NoError(t, err)
	return &nodeTenant{tn}
}

// nodeRun is one finished PipelineRun.
type nodeRun struct{ *Run }

func (r *nodeRun) reported() bool                          { return r.Reported() }
func (r *nodeRun) taskRun(task string) *pipelinev1.TaskRun { return r.TaskRun(task) }

// run creates a PipelineRun of spec with params as the tenant, waits for it to end, logs its
// TaskRuns and wall time, and checks what every run must do: no unsubstituted Tekton reference
// in a Slack post.
func (tn *nodeTenant) run(ctx context.Context, t *testing.T, c *Cluster, spec *pipelinev1.PipelineSpec, params map[string]string) *nodeRun {
	t.Helper()
	r, err := tn.Run(ctx, spec, params, 10*time.Minute, testLog{t})
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
	return &nodeRun{r}
}

// historyData returns the data of the tenant's history ConfigMap.
func (tn *nodeTenant) historyData(ctx context.Context, t *testing.T, c *Cluster) map[string]string {
	t.Helper()
	data, _, err := tn.History(ctx)
	require.NoError(t, err, "the history records the run")
	return data
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

func pushStepImages(ctx context.Context, t *testing.T, c *Cluster, root string) {
	t.Helper()
	require.NoError(t, c.PushStepImages(ctx, root))
}
