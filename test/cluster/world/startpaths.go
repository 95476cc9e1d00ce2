package world

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	pipelinev1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"knative.dev/pkg/apis"
)

// PaCGitAuthSecret is the Secret Pipelines-as-Code creates in the target namespace before each
// run (its pkg/secrets MakeBasicAuthSecret): pac-gitauth-<random>, holding the git provider's
// token for the triggering repository under git-provider-token, and a .git-credentials and
// .gitconfig for git. The run names it through {{ git_auth_secret }}.
func PaCGitAuthSecret(repoURL, sha, token string) (*corev1.Secret, error) {
	u, err := url.Parse(repoURL)
	if err != nil {
		return nil, fmt.Errorf("PaC secret: repository URL %q: %w", repoURL, err)
	}
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("PaC secret: %w", err)
	}
	suffix := make([]byte, len(b))
	for i, c := range b {
		suffix[i] = 'a' + c%26
	}
	owner, repo, _ := strings.Cut(strings.Trim(u.Path, "/"), "/")
	escaped := url.QueryEscape(token)
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Name: "pac-gitauth-" + string(suffix),
			Labels: map[string]string{
				"app.kubernetes.io/managed-by":              "pipelinesascode.tekton.dev",
				"pipelinesascode.tekton.dev/url-org":        owner,
				"pipelinesascode.tekton.dev/url-repository": repo,
			},
			Annotations: map[string]string{
				"pipelinesascode.tekton.dev/url": repoURL,
				"pipelinesascode.tekton.dev/sha": sha,
			},
		},
		StringData: map[string]string{
			".gitconfig":         fmt.Sprintf("\n\t[credential %q]\n\thelper=store\n\t", u.Scheme+"://"+u.Host),
			".git-credentials":   fmt.Sprintf("%s://git:%s@%s%s", u.Scheme, escaped, u.Host, u.Path),
			"git-provider-token": escaped,
		},
	}, nil
}

// Await follows the PipelineRun name in the tenant's namespace, whoever created it (the PaC
// controller, tkn), reporting its TaskRuns as they end on progress, until it ends or timeout
// passes; created is when it was created, for the wall time.
func (tn *Tenant) Await(ctx context.Context, name string, created time.Time, timeout time.Duration, progress io.Writer) (*Run, error) {
	before := len(tn.Posts())
	var pr *pipelinev1.PipelineRun
	seen := map[string]bool{}
	err := tn.c.WaitFor(ctx, "PipelineRun "+name+" done", timeout, func(ctx context.Context) (bool, error) {
		got, err := tn.Tekton.TektonV1().PipelineRuns(tn.NS).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		pr = got
		if trs, err := tn.Tekton.TektonV1().TaskRuns(tn.NS).List(ctx, metav1.ListOptions{LabelSelector: "tekton.dev/pipelineRun=" + name}); err == nil {
			for _, tr := range trs.Items {
				if cond := tr.Status.GetCondition(apis.ConditionSucceeded); cond != nil && !cond.IsUnknown() && !seen[tr.Name] {
					seen[tr.Name] = true
					fmt.Fprintf(progress, "  %s (%s): %s %s\n", tr.Labels["tekton.dev/pipelineTask"], tr.Name, cond.Status, cond.Reason)
				}
			}
		}
		return pr.IsDone(), nil
	})
	if pr == nil {
		return nil, fmt.Errorf("PipelineRun %s/%s: %w", tn.NS, name, err)
	}
	r := &Run{PR: pr, Wall: time.Since(created)}
	trs, lerr := tn.Tekton.TektonV1().TaskRuns(tn.NS).List(ctx, metav1.ListOptions{LabelSelector: "tekton.dev/pipelineRun=" + name})
	if lerr != nil {
		return r, fmt.Errorf("TaskRuns of %s: %w", name, lerr)
	}
	r.TaskRuns = trs.Items
	r.Posts = tn.Posts()[before:]
	r.Cond = pr.Status.GetCondition(apis.ConditionSucceeded)
	if err != nil {
		return r, err
	}
	if r.Cond == nil {
		return r, fmt.Errorf("PipelineRun %s ended without a Succeeded condition", name)
	}
	fmt.Fprintf(progress, "PipelineRun %s: %s %s (%s)\n", name, r.Cond.Status, r.Cond.Reason, r.Wall.Round(time.Millisecond))
	return r, nil
}
