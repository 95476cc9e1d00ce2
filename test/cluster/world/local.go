package world

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"time"

	pipelinev1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"knative.dev/pkg/apis"
	"sigs.k8s.io/yaml"

	"github.com/release-to-prod/release-to-prod/pkg/localrun/runner"
	"github.com/release-to-prod/release-to-prod/test/cluster"
)

// LocalRunner says how to run the Pipeline through tkn-local.
type LocalRunner struct {
	TknLocal string // the tkn-local binary
	BinDir   string // the step binaries and the peak-rss launcher
	Root     string // the checkout (tkn-local --repo)
}

// LocalRun is one finished run of the Pipeline through tkn-local.
type LocalRun struct {
	ExitCode    int
	Output      string
	WorkDir     string
	PipelineRun *pipelinev1.PipelineRun // as tkn-local wrote it: name, condition, skipped tasks, results
	TaskRuns    []pipelinev1.TaskRun    // as tkn-local wrote them for the report
	Posts       []string                // what Slack was sent during this run
	Wall        time.Duration
}

// Cond is the PipelineRun's Succeeded condition, nil when tkn-local wrote none.
func (r *LocalRun) Cond() *apis.Condition {
	if r.PipelineRun == nil {
		return nil
	}
	return r.PipelineRun.Status.GetCondition(apis.ConditionSucceeded)
}

// RunLocal runs the Pipeline p with params through tkn-local, inside the cluster's network
// namespace, against what the node's run uses: the API server at the kubernetes Service IP
// with a token of the tenant's release-to-prod ServiceAccount (the rights its pods get), the
// cluster's registry, the stand-ins served on the pods' gateway, trusted as the step images
// trust them (the host's CA bundle and the cluster's CA); the Secrets the Tasks mount (the Slack
// webhook's) it reads as the tenant admin. Its files stay in workDir.
func (tn *Tenant) RunLocal(ctx context.Context, lr LocalRunner, p *pipelinev1.Pipeline, params map[string]string, workDir string) (*LocalRun, error) {
	files, err := tn.writeLocalFiles(ctx, p, workDir)
	if err != nil {
		return nil, err
	}
	runDir := filepath.Join(workDir, "run")
	args := []string{"--net=" + tn.c.NetnsPath(), "--", lr.TknLocal, "pipeline", "start", "-f", files.pipeline,
		"--repo", lr.Root, "--bin", lr.BinDir, "--kubeconfig", files.kubeconfig, "--workdir", runDir,
		// The name the node's runs get (generateName release-to-prod-): texts that quote it
		// are cut at the same places.
		"--prefix-name", "release-to-prod",
		// The Secrets the Tasks mount are read as the kubelet reads them, not with the steps'
		// ServiceAccount (which may not read Secrets).
		"--mount-kubeconfig", tn.AdminKubeconfig}
	for _, n := range slices.Sorted(maps.Keys(params)) {
		args = append(args, "-p", n+"="+params[n])
	}
	before := len(tn.Posts())
	cmd := exec.CommandContext(ctx, "nsenter", args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + workDir, "SSL_CERT_FILE=" + files.ca}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	runErr := cmd.Run()
	r := &LocalRun{Wall: time.Since(start), Output: out.String(), WorkDir: runDir}
	r.Posts = tn.Posts()[before:]
	var exitErr *exec.ExitError
	switch {
	case runErr == nil:
	case errors.As(runErr, &exitErr):
		r.ExitCode = exitErr.ExitCode()
	default:
		return r, fmt.Errorf("tkn-local: %w", runErr)
	}
	return r, r.readRun()
}

// localFiles are what RunLocal hands tkn-local: the Pipeline, the CA bundle the steps trust,
// and the kubeconfig of the ServiceAccount it runs as.
type localFiles struct{ pipeline, ca, kubeconfig string }

// writeLocalFiles writes RunLocal's files in workDir.
func (tn *Tenant) writeLocalFiles(ctx context.Context, p *pipelinev1.Pipeline, workDir string) (localFiles, error) {
	files := localFiles{pipeline: filepath.Join(workDir, "pipeline.yaml"), ca: filepath.Join(workDir, "ca.crt"),
		kubeconfig: filepath.Join(workDir, "kubeconfig")}
	if err := os.MkdirAll(workDir, 0o700); err != nil {
		return files, fmt.Errorf("tkn-local: %w", err)
	}
	b, err := yaml.Marshal(p)
	if err != nil {
		return files, fmt.Errorf("tkn-local: pipeline: %w", err)
	}
	if err := os.WriteFile(files.pipeline, b, 0o600); err != nil {
		return files, fmt.Errorf("tkn-local: %w", err)
	}
	token, err := tn.localToken(ctx)
	if err != nil {
		return files, err
	}
	cas, err := tn.c.TrustedCAs()
	if err != nil {
		return files, fmt.Errorf("tkn-local: %w", err)
	}
	if err := os.WriteFile(files.ca, cas, 0o600); err != nil {
		return files, fmt.Errorf("tkn-local: %w", err)
	}
	if err := os.WriteFile(files.kubeconfig, []byte(fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: node
  cluster: {server: "https://%s:443", certificate-authority: %q}
users:
- name: tkn-local
  user: {token: %q}
contexts:
- name: node
  context: {cluster: node, user: tkn-local, namespace: %q}
current-context: node
`, cluster.APIServiceIP, files.ca, token, tn.NS)), 0o600); err != nil {
		return files, fmt.Errorf("tkn-local: %w", err)
	}
	return files, nil
}

// localToken returns a token of the ServiceAccount tkn-local runs as. tkn-local runs every step
// with one kubeconfig: it does not model the per-task ServiceAccounts of the node's runs, so it
// gets a ServiceAccount holding the rights of both (the Roles of config/rbac/self-hosted, bound
// to it here).
func (tn *Tenant) localToken(ctx context.Context) (string, error) {
	sa, err := tn.localServiceAccount(ctx)
	if err != nil {
		return "", err
	}
	tok, err := tn.c.Client.CoreV1().ServiceAccounts(tn.NS).CreateToken(ctx, sa, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](3600)},
	}, metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("tkn-local: token of ServiceAccount %s: %w", sa, err)
	}
	return tok.Status.Token, nil
}

// readRun reads what tkn-local wrote in the run's folder: the PipelineRun and its TaskRuns.
func (r *LocalRun) readRun() error {
	var err error
	if r.PipelineRun, err = readObject[pipelinev1.PipelineRun](filepath.Join(r.WorkDir, runner.PipelineRunFile)); err != nil {
		return fmt.Errorf("tkn-local (exit %d): %w", r.ExitCode, err)
	}
	files, err := filepath.Glob(filepath.Join(r.WorkDir, runner.TaskRunsDir, "*.json"))
	if err != nil {
		return fmt.Errorf("tkn-local: %w", err)
	}
	for _, f := range files {
		tr, err := readObject[pipelinev1.TaskRun](f)
		if err != nil {
			return fmt.Errorf("tkn-local: %w", err)
		}
		r.TaskRuns = append(r.TaskRuns, *tr)
	}
	return nil
}

func readObject[T any](path string) (*T, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &v, nil
}

// localServiceAccount creates (once) the ServiceAccount tkn-local runs as in the tenant's
// namespace, bound to the roles of both of the project's ServiceAccounts: whatever the set-up
// script bound them to (Konflux's ClusterRoles on hosted Konflux, the project's Roles on
// self-hosted).
func (tn *Tenant) localServiceAccount(ctx context.Context) (string, error) {
	const name = "tkn-local"
	c := tn.c
	_, err := c.Client.CoreV1().ServiceAccounts(tn.NS).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return name, nil
	}
	if err != nil {
		return "", fmt.Errorf("tkn-local: ServiceAccount %s: %w", name, err)
	}
	project, err := c.Client.RbacV1().RoleBindings(tn.NS).List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/name=release-to-prod"})
	if err != nil {
		return "", fmt.Errorf("tkn-local: the project's RoleBindings: %w", err)
	}
	for _, b := range project.Items {
		rb := &rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: name + "-" + b.Name},
			RoleRef:    b.RoleRef,
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: name, Namespace: tn.NS}},
		}
		if _, err := c.Client.RbacV1().RoleBindings(tn.NS).Create(ctx, rb, metav1.CreateOptions{}); err != nil {
			return "", fmt.Errorf("tkn-local: RoleBinding to %s: %w", b.RoleRef.Name, err)
		}
	}
	return name, nil
}
