package cluster

import (
	"bytes"
	"context"
	"crypto/subtle"
	"fmt"
	"net/http"
	"net/http/cgi"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// gitHTTPBackend is Git's smart-HTTP CGI program, from Debian's git package.
const gitHTTPBackend = "/usr/lib/git-core/git-http-backend"

// GitServer serves a bare clone of a checkout over smart HTTP (git http-backend behind
// net/http/cgi) inside the cluster's network namespace, read-only, to clients that present its
// token as the password of HTTP basic authentication — as a Git host serves a private
// repository to a token (Tekton's git resolver sends `git:<token>`, the user PaC's token secret
// names).
type GitServer struct {
	// URL is the repository's URL as pods and the resolvers see it:
	// http://10.88.0.1:<port>/<path>.git
	URL string
	// Base is the server's root URL (http://10.88.0.1:<port>/), what a host's base URL is
	// rewritten to (ResolverOptions.GitURLRewrites).
	Base string
	// Commit is the commit the tag points at (the checkout's HEAD).
	Commit string

	token string
}

// ServeGit clones the checkout at root (bare, its HEAD and tags) as <path>.git, tags its HEAD as
// tag (when not empty), and serves it to clients that present token. path is the repository's
// path on its host: release-to-prod/release-to-prod.
func (c *Cluster) ServeGit(ctx context.Context, root, path, tag, token string) (*GitServer, error) {
	if token == "" {
		return nil, fmt.Errorf("cluster: git server: a token is required")
	}
	if _, err := os.Stat(gitHTTPBackend); err != nil {
		return nil, fmt.Errorf("cluster: git server: %s (Debian's git package): %w", gitHTTPBackend, err)
	}
	projects := filepath.Join(c.Dir, "git")
	bare := filepath.Join(projects, filepath.FromSlash(path)+".git")
	head, err := git(ctx, root, "rev-parse", "HEAD")
	if err != nil {
		return nil, fmt.Errorf("cluster: git server: %w", err)
	}
	if _, err := git(ctx, root, "clone", "--quiet", "--bare", "--no-local", "--", root, bare); err != nil {
		return nil, fmt.Errorf("cluster: git server: %w", err)
	}
	// A bare clone of a worktree keeps the main checkout's HEAD: serve this checkout's.
	steps := [][]string{{"update-ref", "HEAD", head}}
	if tag != "" {
		steps = append(steps, []string{"tag", "--force", tag, head})
	}
	// As GitHub does: a client may fetch any commit reachable from a ref by its SHA (Tekton's
	// git resolver fetches `revision` with `git fetch origin <revision>`).
	steps = append(steps, []string{"config", "uploadpack.allowReachableSHA1InWant", "true"})
	for _, args := range steps {
		if _, err := git(ctx, bare, args...); err != nil {
			return nil, fmt.Errorf("cluster: git server: %w", err)
		}
	}
	s := &GitServer{Commit: head, token: token}
	backend := &cgi.Handler{
		Path: gitHTTPBackend,
		Dir:  projects,
		Env:  []string{"GIT_PROJECT_ROOT=" + projects, "GIT_HTTP_EXPORT_ALL=1", "GIT_CONFIG_NOSYSTEM=1", "HOME=" + projects},
	}
	addr, err := c.Serve(s.authenticate(backend))
	if err != nil {
		return nil, fmt.Errorf("cluster: git server: %w", err)
	}
	s.Base = "http://" + addr + "/"
	s.URL = s.Base + path + ".git"
	return s, nil
}

// authenticate lets through requests whose basic-auth password is the token, read-only: a push
// (git-receive-pack) is refused whatever the credentials.
func (s *GitServer) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, password, ok := r.BasicAuth()
		if !ok || subtle.ConstantTimeCompare([]byte(password), []byte(s.token)) != 1 {
			w.Header().Set("WWW-Authenticate", `Basic realm="release-to-prod test git server"`)
			http.Error(w, "authentication required", http.StatusUnauthorized)
			return
		}
		if strings.HasSuffix(r.URL.Path, "/git-receive-pack") || r.URL.Query().Get("service") == "git-receive-pack" {
			http.Error(w, "read-only", http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// git runs git in dir with the host's and the user's configuration ignored.
func git(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", append([]string{"-C", dir}, args...)...)
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null", "GIT_TERMINAL_PROMPT=0")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, bytes.TrimSpace(stderr.Bytes()))
	}
	return strings.TrimSpace(string(out)), nil
}
