package sandbox

import (
	"context"
	"fmt"
	"log"
	"net"
	"net/http"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Registry is an OCI registry on loopback with the Quay API stand-in on the same server.
type Registry struct {
	Host string // 127.0.0.1:port
	URL  string // http://127.0.0.1:port
	Quay *QuayStub

	srv *http.Server
	mu  sync.Mutex
	// user/pass, when set, are required on every /v2/ request (a 401 otherwise).
	user, pass string
	// hits counts requests by "METHOD path" so tests can check the round trips a step makes.
	hits map[string]int
}

// StartRegistry serves a new registry on a free loopback port.
func StartRegistry() (*Registry, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("registry: %w", err)
	}
	r := &Registry{Host: l.Addr().String(), Quay: NewQuayStub(), hits: map[string]int{}}
	r.URL = "http://" + r.Host
	reg := registry.New(registry.Logger(log.New(discard{}, "", 0)))
	mux := http.NewServeMux()
	mux.Handle("/v2/", r.authenticate(reg))
	mux.Handle("/api/v1/", r.Quay)
	r.srv = &http.Server{Handler: r.count(mux)}
	go func() { _ = r.srv.Serve(l) }()
	return r, nil
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// Close stops the server.
func (r *Registry) Close() { _ = r.srv.Close() }

// RequireAuth makes every registry request need these basic-auth credentials; empty user
// turns it off.
func (r *Registry) RequireAuth(user, pass string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.user, r.pass = user, pass
}

// Hits returns how many requests matched "METHOD path-prefix" so far.
func (r *Registry) Hits(method, pathPrefix string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for k, v := range r.hits {
		m, p, _ := strings.Cut(k, " ")
		if m == method && strings.HasPrefix(p, pathPrefix) {
			n += v
		}
	}
	return n
}

func (r *Registry) count(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		r.hits[req.Method+" "+req.URL.Path]++
		r.mu.Unlock()
		next.ServeHTTP(w, req)
	})
}

func (r *Registry) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		user, pass := r.user, r.pass
		r.mu.Unlock()
		if user != "" {
			u, p, ok := req.BasicAuth()
			if !ok || u != user || p != pass {
				w.Header().Set("WWW-Authenticate", `Basic realm="sandbox"`)
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusUnauthorized)
				_, _ = w.Write([]byte(`{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`))
				return
			}
		}
		next.ServeHTTP(w, req)
	})
}

// Repository returns host/path for a repository path.
func (r *Registry) Repository(path string) string { return r.Host + "/" + path }

func (r *Registry) writeOptions(ctx context.Context) []remote.Option {
	r.mu.Lock()
	defer r.mu.Unlock()
	opts := []remote.Option{remote.WithContext(ctx)}
	if r.user != "" {
		opts = append(opts, remote.WithAuth(&authn.Basic{Username: r.user, Password: r.pass}))
	}
	return opts
}

// PushImage pushes a small random single-platform image as repo:tag and returns its digest.
func (r *Registry) PushImage(ctx context.Context, repo, tag string) (string, error) {
	ref, err := name.NewTag(repo+":"+tag, name.Insecure)
	if err != nil {
		return "", fmt.Errorf("registry: %w", err)
	}
	img, err := random.Image(256, 1)
	if err != nil {
		return "", fmt.Errorf("registry: %w", err)
	}
	img, err = withPlatform(img, v1.Platform{OS: "linux", Architecture: "amd64"})
	if err != nil {
		return "", fmt.Errorf("registry: %w", err)
	}
	if err := remote.Write(ref, img, r.writeOptions(ctx)...); err != nil {
		return "", fmt.Errorf("registry: pushing %s: %w", ref, err)
	}
	d, err := img.Digest()
	if err != nil {
		return "", fmt.Errorf("registry: %w", err)
	}
	return d.String(), nil
}

// PushIndex pushes a multi-platform image index as repo:tag with one random image per platform
// ("linux/amd64", "linux/arm64", …). It returns the index digest and the digest per platform.
func (r *Registry) PushIndex(ctx context.Context, repo, tag string, platforms ...string) (string, map[string]string, error) {
	ref, err := name.NewTag(repo+":"+tag, name.Insecure)
	if err != nil {
		return "", nil, fmt.Errorf("registry: %w", err)
	}
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	digests := map[string]string{}
	for _, p := range platforms {
		plat, err := v1.ParsePlatform(p)
		if err != nil {
			return "", nil, fmt.Errorf("registry: platform %q: %w", p, err)
		}
		img, err := random.Image(256, 1)
		if err != nil {
			return "", nil, fmt.Errorf("registry: %w", err)
		}
		if img, err = withPlatform(img, *plat); err != nil {
			return "", nil, fmt.Errorf("registry: %w", err)
		}
		d, err := img.Digest()
		if err != nil {
			return "", nil, fmt.Errorf("registry: %w", err)
		}
		digests[p] = d.String()
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: plat}})
	}
	if err := remote.WriteIndex(ref, idx, r.writeOptions(ctx)...); err != nil {
		return "", nil, fmt.Errorf("registry: pushing %s: %w", ref, err)
	}
	d, err := idx.Digest()
	if err != nil {
		return "", nil, fmt.Errorf("registry: %w", err)
	}
	return d.String(), digests, nil
}

func withPlatform(img v1.Image, p v1.Platform) (v1.Image, error) {
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("registry: %w", err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Variant = p.OS, p.Architecture, p.Variant
	return mutate.ConfigFile(img, cf)
}
