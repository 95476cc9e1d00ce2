package cluster

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Registry is an OCI registry (go-containerregistry's pkg/registry) served inside the cluster's
// network namespace on the pods' gateway address, where containerd pulls from and pods reach
// it. The test process pushes through sockets opened in the namespace.
type Registry struct {
	// Host is the registry's address as pods and the node see it (RegistryHost).
	Host string

	srv       *http.Server
	transport *http.Transport
}

func (c *Cluster) startRegistry(wrap func(http.Handler) http.Handler) (*Registry, error) {
	l, err := c.host.Listen(RegistryHost)
	if err != nil {
		return nil, fmt.Errorf("registry: %w", err)
	}
	h := registry.New(registry.Logger(log.New(discard{}, "", 0)))
	if wrap != nil {
		h = wrap(h)
	}
	r := &Registry{
		Host:      RegistryHost,
		srv:       &http.Server{Handler: h},
		transport: &http.Transport{DialContext: c.host.Dial},
	}
	go func() { _ = r.srv.Serve(l) }()
	return r, nil
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

func (r *Registry) close() {
	_ = r.srv.Close()
	r.transport.CloseIdleConnections()
}

// RemoteOptions are the go-containerregistry options that reach this registry from the test
// process.
func (r *Registry) RemoteOptions(ctx context.Context) []remote.Option {
	return []remote.Option{remote.WithContext(ctx), remote.WithTransport(r.transport)}
}

func (r *Registry) tag(repo, tag string) (name.Tag, error) {
	t, err := name.NewTag(r.Host+"/"+strings.TrimPrefix(repo, "/")+":"+tag, name.Insecure)
	if err != nil {
		return name.Tag{}, fmt.Errorf("registry: reference %s:%s: %w", repo, tag, err)
	}
	return t, nil
}

// PushImage pushes img as repo:tag and returns its reference by digest as pods see it
// (10.88.0.1:5000/repo@sha256:…).
func (r *Registry) PushImage(ctx context.Context, repo, tag string, img v1.Image) (string, error) {
	t, err := r.tag(repo, tag)
	if err != nil {
		return "", err
	}
	if err := remote.Write(t, img, r.RemoteOptions(ctx)...); err != nil {
		return "", fmt.Errorf("registry: pushing %s: %w", t, err)
	}
	d, err := img.Digest()
	if err != nil {
		return "", fmt.Errorf("registry: %w", err)
	}
	return t.Context().Digest(d.String()).String(), nil
}

// PushIndex pushes a multi-platform index as repo:tag and returns its reference by digest.
func (r *Registry) PushIndex(ctx context.Context, repo, tag string, idx v1.ImageIndex) (string, error) {
	t, err := r.tag(repo, tag)
	if err != nil {
		return "", err
	}
	if err := remote.WriteIndex(t, idx, r.RemoteOptions(ctx)...); err != nil {
		return "", fmt.Errorf("registry: pushing %s: %w", t, err)
	}
	d, err := idx.Digest()
	if err != nil {
		return "", fmt.Errorf("registry: %w", err)
	}
	return t.Context().Digest(d.String()).String(), nil
}

// PushLayout pushes the one index of an OCI image layout (what `make images` writes under
// out/images/<step>) as repo:tag and returns its reference by digest.
func (r *Registry) PushLayout(ctx context.Context, dir, repo, tag string) (string, error) {
	ii, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		return "", fmt.Errorf("registry: OCI layout %s: %w", dir, err)
	}
	im, err := ii.IndexManifest()
	if err != nil {
		return "", fmt.Errorf("registry: OCI layout %s: %w", dir, err)
	}
	if len(im.Manifests) != 1 {
		return "", fmt.Errorf("registry: OCI layout %s: want 1 image index, found %d entries", dir, len(im.Manifests))
	}
	idx, err := ii.ImageIndex(im.Manifests[0].Digest)
	if err != nil {
		return "", fmt.Errorf("registry: OCI layout %s: %w", dir, err)
	}
	return r.PushIndex(ctx, repo, tag, idx)
}
