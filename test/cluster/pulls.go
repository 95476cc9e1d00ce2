package cluster

import (
	"maps"
	"net/http"
	"strings"
	"sync"
)

// PullCounter counts the bytes the cluster's registry serves to image pulls: the bodies of GET
// responses for manifests and blobs, split by who asked. Pass its Wrap as Options.WrapRegistry.
// What the node pulls (containerd, by its User-Agent) is what a cold node costs; the steps' own
// registry calls (check-image's HEADs and GETs) are counted apart.
type PullCounter struct {
	mu     sync.Mutex
	counts Pulls
}

// Pulls is what the registry served since the counter was last taken.
type Pulls struct {
	// Node is what containerd pulled, in total and by repository.
	Node       PullCount
	NodeByRepo map[string]PullCount
	// Other is every other client's GETs of manifests and blobs (the steps, the test process).
	Other PullCount
}

// PullCount is a number of GET responses and the bytes of their bodies.
type PullCount struct {
	Requests int
	Bytes    int64
}

// NewPullCounter returns a counter at zero.
func NewPullCounter() *PullCounter {
	return &PullCounter{counts: Pulls{NodeByRepo: map[string]PullCount{}}}
}

// Wrap counts what h serves; it has the signature of Options.WrapRegistry.
func (p *PullCounter) Wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		repo, ok := pulledRepo(r)
		if !ok {
			h.ServeHTTP(w, r)
			return
		}
		cw := &countingWriter{ResponseWriter: w}
		h.ServeHTTP(cw, r)
		node := strings.HasPrefix(r.UserAgent(), "containerd/")
		p.mu.Lock()
		defer p.mu.Unlock()
		if node {
			p.counts.Node.add(cw.n)
			rc := p.counts.NodeByRepo[repo]
			rc.add(cw.n)
			p.counts.NodeByRepo[repo] = rc
		} else {
			p.counts.Other.add(cw.n)
		}
	})
}

// Take returns the counts since the last Take (or since the start) and starts again from zero.
func (p *PullCounter) Take() Pulls {
	p.mu.Lock()
	defer p.mu.Unlock()
	got := p.counts
	got.NodeByRepo = maps.Clone(got.NodeByRepo)
	p.counts = Pulls{NodeByRepo: map[string]PullCount{}}
	return got
}

func (c *PullCount) add(n int64) {
	c.Requests++
	c.Bytes += n
}

// pulledRepo returns the repository of a GET of /v2/<repo>/manifests/<ref> or
// /v2/<repo>/blobs/<digest>, the two requests a pull is made of.
func pulledRepo(r *http.Request) (string, bool) {
	if r.Method != http.MethodGet {
		return "", false
	}
	path, ok := strings.CutPrefix(r.URL.Path, "/v2/")
	if !ok {
		return "", false
	}
	for _, kind := range []string{"/manifests/", "/blobs/"} {
		if i := strings.LastIndex(path, kind); i > 0 {
			return path[:i], true
		}
	}
	return "", false
}

type countingWriter struct {
	http.ResponseWriter
	n int64
}

func (w *countingWriter) Write(b []byte) (int, error) {
	n, err := w.ResponseWriter.Write(b)
	w.n += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the underlying writer (Flush, deadlines).
func (w *countingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
