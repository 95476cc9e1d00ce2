package cluster

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"knative.dev/pkg/apis"

	pipelinev1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	tektonclient "github.com/tektoncd/pipeline/pkg/client/clientset/versioned"

	"github.com/release-to-prod/release-to-prod/test/cluster/host"
	"github.com/release-to-prod/release-to-prod/test/tools"
)

// TestTaskRunOnNode runs TaskRuns on the real node through the real Tekton controller, under
// restricted pod security and a tenant's rights, then checks that Stop left the host as found.
func TestTaskRunOnNode(t *testing.T) {
	if testing.Short() {
		t.Skip("cluster: starts a Kubernetes node and the Tekton controller; not run with -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Minute)
	defer cancel()
	// Node tests of other packages wait until this one has looked at the host after its Stop
	// (the cleanup runs after the Stop one registered below).
	unlock, err := host.LockTests(testLog{t})
	require.NoError(t, err)
	t.Cleanup(unlock)

	// A run killed earlier is swept first, so that the snapshot is of the host as a run finds it.
	require.NoError(t, host.Sweep(testLog{t}))
	before := snapshotHost(t)
	start := time.Now()
	c, err := Start(ctx, Options{Log: testLog{t}, Mirrors: []string{"quay.io"}})
	require.NoError(t, err, "cluster could not start (this is a failure, not a skip)")
	t.Cleanup(func() { _ = c.Stop() }) // when an assertion below stops the test early
	t.Logf("cluster start: %s", time.Since(start).Round(time.Millisecond))
	run := c.host

	ok := t.Run("taskruns", func(t *testing.T) {
		defer func() {
			if t.Failed() {
				c.dumpLogs(t)
			}
		}()
		image := pushWriteResultImage(ctx, t, c)
		const ns = "tenant"
		require.NoError(t, c.RestrictedNamespace(ctx, ns))
		// A Konflux tenant admin may not create TaskRuns (konflux-admin-user-actions: get, list,
		// watch; PipelineRuns only, which TestPipelineOnNode creates as that user): these
		// checks of the node itself create them as the cluster admin.
		tekton, err := tektonclient.NewForConfig(c.Config)
		require.NoError(t, err)

		t.Run("result read back", func(t *testing.T) {
			// Named as on quay.io, pulled from the cluster's registry (Options.Mirrors).
			quayImage := "quay.io/" + strings.TrimPrefix(image, RegistryHost+"/")
			tr := runTaskRun(ctx, t, c, tekton, ns, writeResultTask("hello", quayImage, []step{{name: "write", result: "greeting", value: "hello from the node"}}))
			requireCondition(t, tr, corev1.ConditionTrue, "Succeeded")
			require.Len(t, tr.Status.Results, 1)
			assert.Equal(t, "greeting", tr.Status.Results[0].Name)
			assert.Equal(t, "hello from the node", tr.Status.Results[0].Value.StringVal)
		})

		t.Run("pods reach the API and the test's services", func(t *testing.T) {
			// No kube-proxy: the Service IP is on the namespace's lo and the API server
			// listens there; the test's stand-ins are served on the pods' gateway.
			hits := make(chan string, 1)
			addr, err := c.Serve(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				select {
				case hits <- r.URL.Path:
				default:
				}
				_, _ = w.Write([]byte("pong"))
			}))
			require.NoError(t, err)
			api := "https://" + APIServiceIP + ":443"
			tr := runTaskRun(ctx, t, c, tekton, ns, writeResultTask("reach", image, []step{
				{name: "version", result: "version", fetch: api + "/version"},
				{name: "forbidden", result: "forbidden", fetch: api + "/api/v1/namespaces/" + ns + "/configmaps/kube-root-ca.crt"},
				{name: "service", result: "service", fetch: "http://" + addr + "/ping"},
			}))
			requireCondition(t, tr, corev1.ConditionTrue, "Succeeded")
			got := map[string]string{}
			for _, r := range tr.Status.Results {
				got[r.Name] = r.Value.StringVal
			}
			assert.Regexp(t, `^200 \{ "major": "1", "minor": "37"`, got["version"], "GET /version with the pod's token")
			assert.Regexp(t, `^403 `, got["forbidden"], "the pod's ServiceAccount is authenticated (not 401) and has no right to ConfigMaps")
			assert.Equal(t, "200 pong", got["service"])
			assert.Equal(t, "/ping", <-hits)
		})

		t.Run("termination message cap", func(t *testing.T) {
			// Three steps and Tekton's "prepare" init container: the kubelet keeps
			// 12288/4 = 3072 bytes of each termination message. The last step writes a result
			// that Tekton's entrypoint accepts (its message stays under 4096 bytes) but that
			// the kubelet cuts.
			const size = 3500
			tr := runTaskRun(ctx, t, c, tekton, ns, writeResultTask("big", image, []step{
				{name: "first", result: "small1", value: "a"},
				{name: "second", result: "small2", value: "b"},
				{name: "third", result: "big", value: "big:", size: size},
			}))
			pod, err := c.Client.CoreV1().Pods(ns).Get(ctx, tr.Status.PodName, metav1.GetOptions{})
			require.NoError(t, err)
			containers := len(pod.Spec.Containers) + len(pod.Spec.InitContainers)
			require.GreaterOrEqual(t, containers, 4, "the pod needs at least 4 containers for the cap to bite below 4096")
			limit := PodTerminationMessageCap / containers
			var msg string
			for _, cs := range pod.Status.ContainerStatuses {
				if cs.Name == "step-third" {
					require.NotNil(t, cs.State.Terminated, "step-third has not terminated")
					msg = cs.State.Terminated.Message
				}
			}
			assert.Len(t, msg, limit, "the kubelet cuts each container's termination message to 12288/%d bytes", containers)
			assert.Greater(t, size, limit)
			assert.Less(t, size+200, 4096, "the entrypoint accepts the message: only the kubelet cuts it")
			t.Logf("pod of %d containers: termination message of step-third cut to %d bytes; TaskRun %s: %s", containers, len(msg),
				tr.Status.GetCondition(apis.ConditionSucceeded).Reason, tr.Status.GetCondition(apis.ConditionSucceeded).Message)
			// What Tekton v1.15.0 makes of it: the cut message is no longer JSON, the step's
			// results are dropped, and the TaskRun still reports success — the big result is
			// silently missing. This is why the project keeps every result under the cap.
			requireCondition(t, tr, corev1.ConditionTrue, "Succeeded")
			got := map[string]string{}
			for _, r := range tr.Status.Results {
				got[r.Name] = r.Value.StringVal
			}
			assert.Equal(t, map[string]string{"small1": "a", "small2": "b"}, got)
		})
	})

	stopStart := time.Now()
	require.NoError(t, c.Stop())
	t.Logf("cluster stop: %s", time.Since(stopStart).Round(time.Millisecond))
	if !ok {
		return
	}
	after := snapshotHost(t)
	assert.Equal(t, before.Sysctls, after.Sysctls, "host sysctls changed")
	assert.Equal(t, before.Paths, after.Paths, "host paths created or removed")
	assert.Equal(t, before.LogLinks, after.LogLinks, "links left in /var/log/containers")
	assert.Equal(t, before.Cgroups, after.Cgroups, "top-level cgroups created or removed")
	assert.Empty(t, run.Processes(), "processes of the run left")
	assert.Empty(t, run.Mounts(), "mounts left under the run directory")
	assert.NoDirExists(t, run.Dir)
	hs, err := host.CgroupHierarchies()
	require.NoError(t, err)
	for _, h := range hs {
		assert.NoDirExists(t, filepath.Join(h, run.CgroupName()), "cgroup left")
	}
}

type step struct {
	name, result, value string
	size                int
	fetch               string // a URL whose status and body start become the result
}

// writeResultTask is a TaskRun with an inline Task: each step runs write-result with an explicit
// command and a restricted securityContext without runAsUser (the image's numeric USER makes the
// container non-root, as OpenShift's restricted-v2 SCC requires).
func writeResultTask(name, image string, steps []step) *pipelinev1.TaskRun {
	spec := &pipelinev1.TaskSpec{}
	for _, s := range steps {
		spec.Results = append(spec.Results, pipelinev1.TaskResult{Name: s.result, Type: pipelinev1.ResultsTypeString})
		spec.Steps = append(spec.Steps, pipelinev1.Step{
			Name:    s.name,
			Image:   image,
			Command: []string{"/usr/local/bin/write-result"},
			Env: []corev1.EnvVar{
				{Name: "RESULT_PATH", Value: "$(results." + s.result + ".path)"},
				{Name: "RESULT_VALUE", Value: s.value},
				{Name: "RESULT_SIZE", Value: strconv.Itoa(s.size)},
				{Name: "FETCH_URL", Value: s.fetch},
			},
			SecurityContext: &corev1.SecurityContext{
				AllowPrivilegeEscalation: ptr.To(false),
				RunAsNonRoot:             ptr.To(true),
				ReadOnlyRootFilesystem:   ptr.To(true),
				Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
				SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
			},
		})
	}
	return &pipelinev1.TaskRun{
		ObjectMeta: metav1.ObjectMeta{GenerateName: name + "-"},
		Spec:       pipelinev1.TaskRunSpec{TaskSpec: spec},
	}
}

// runTaskRun creates the TaskRun as the tenant, waits until it is done and logs the figures:
// creation to the pod's first step start, and creation to done.
func runTaskRun(ctx context.Context, t *testing.T, c *Cluster, tekton tektonclient.Interface, ns string, tr *pipelinev1.TaskRun) *pipelinev1.TaskRun {
	t.Helper()
	created := time.Now()
	tr, err := tekton.TektonV1().TaskRuns(ns).Create(ctx, tr, metav1.CreateOptions{})
	require.NoError(t, err)
	var podStarted time.Duration
	err = c.WaitFor(ctx, "TaskRun "+tr.Name+" done", 5*time.Minute, func(ctx context.Context) (bool, error) {
		got, err := tekton.TektonV1().TaskRuns(ns).Get(ctx, tr.Name, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		tr = got
		if podStarted == 0 && tr.Status.PodName != "" {
			if pod, err := c.Client.CoreV1().Pods(ns).Get(ctx, tr.Status.PodName, metav1.GetOptions{}); err == nil {
				for _, cs := range pod.Status.ContainerStatuses {
					if cs.State.Running != nil || cs.State.Terminated != nil {
						podStarted = time.Since(created)
						break
					}
				}
			}
		}
		return tr.IsDone(), nil
	})
	require.NoError(t, err, "TaskRun %s: %s", tr.Name, describe(tr))
	t.Logf("TaskRun %s: first step container started after %s, done after %s (%s)", tr.Name,
		podStarted.Round(time.Millisecond), time.Since(created).Round(time.Millisecond), describe(tr))
	return tr
}

func describe(tr *pipelinev1.TaskRun) string {
	cond := tr.Status.GetCondition(apis.ConditionSucceeded)
	if cond == nil {
		return "no Succeeded condition yet"
	}
	return fmt.Sprintf("%s %s: %s", cond.Status, cond.Reason, cond.Message)
}

func requireCondition(t *testing.T, tr *pipelinev1.TaskRun, status corev1.ConditionStatus, reason string) {
	t.Helper()
	cond := tr.Status.GetCondition(apis.ConditionSucceeded)
	require.NotNil(t, cond)
	require.Equal(t, status, cond.Status, describe(tr))
	require.Equal(t, reason, cond.Reason, describe(tr))
}

// pushWriteResultImage builds ./internal/writeresult statically and pushes it as the step image.
func pushWriteResultImage(ctx context.Context, t *testing.T, c *Cluster) string {
	t.Helper()
	root, err := tools.Root()
	require.NoError(t, err)
	bin := filepath.Join(t.TempDir(), "write-result")
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, "./test/cluster/internal/writeresult")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	b, err := os.ReadFile(bin)
	require.NoError(t, err)
	img, err := BinaryImage("write-result", b)
	require.NoError(t, err)
	ref, err := c.Registry.PushImage(ctx, "test/write-result", "test", img)
	require.NoError(t, err)
	return ref
}

// snapshotHost is the host state a run must give back, as the test finds it.
func snapshotHost(t *testing.T) host.Snapshot {
	t.Helper()
	s, err := host.TakeSnapshot()
	require.NoError(t, err)
	require.NotEmpty(t, s.Sysctls["kernel/panic"])
	return s
}
