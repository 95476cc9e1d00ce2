package world

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

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
	f := tn.follow(name, progress)
	err := f.wait(ctx, timeout)
	pr := f.pr
	if pr == nil {
		return nil, fmt.Errorf("PipelineRun %s/%s: %w", tn.NS, name, err)
	}
	r := &Run{PR: pr, Wall: time.Since(created)}
	trs, lerr := f.taskRuns(ctx)
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
