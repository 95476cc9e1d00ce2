package sandbox

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
)

// QuayStub stands in for the two Quay API endpoints the project calls, on the same loopback
// server as the registry. Each test sets the replies; shapes follow Quay's documented JSON.
type QuayStub struct {
	mu       sync.Mutex
	security map[string][]Reply // key: "ns/repo@digest"
	calls    map[string]int
}

// Reply is one canned HTTP answer.
type Reply struct {
	Status int
	Body   string
	Header map[string]string
}

// NewQuayStub returns an empty stub: every security request is answered 404 until set.
func NewQuayStub() *QuayStub {
	return &QuayStub{security: map[string][]Reply{}, calls: map[string]int{}}
}

// SetSecurity sets the replies for GET /api/v1/repository/{repo}/manifest/{digest}/security:
// the n-th call gets replies[n], the last one repeats.
func (q *QuayStub) SetSecurity(repo, digest string, replies ...Reply) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.security[repo+"@"+digest] = replies
}

// Calls returns how many security requests were made for repo@digest.
func (q *QuayStub) Calls(repo, digest string) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.calls[repo+"@"+digest]
}

func (q *QuayStub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rest, ok := strings.CutPrefix(r.URL.Path, "/api/v1/repository/")
	repo, digest, ok2 := strings.Cut(rest, "/manifest/")
	digest, ok3 := strings.CutSuffix(digest, "/security")
	if !ok || !ok2 || !ok3 || r.Method != http.MethodGet {
		http.Error(w, `{"error_message":"not found"}`, http.StatusNotFound)
		return
	}
	key := repo + "@" + digest
	q.mu.Lock()
	n := q.calls[key]
	q.calls[key] = n + 1
	replies := q.security[key]
	q.mu.Unlock()
	if len(replies) == 0 {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprint(w, `{"detail":"Not Found","error_message":"Not Found","status":404,"title":"not_found","type":"https://quay.io/api/v1/error/not_found"}`)
		return
	}
	rep := replies[min(n, len(replies)-1)]
	for k, v := range rep.Header {
		w.Header().Set(k, v)
	}
	if w.Header().Get("Content-Type") == "" {
		w.Header().Set("Content-Type", "application/json")
	}
	w.WriteHeader(rep.Status)
	fmt.Fprint(w, rep.Body)
}
