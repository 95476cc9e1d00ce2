package sandbox

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// SlackSink stands in for Slack's incoming-webhook endpoint on loopback. Each webhook is a
// secret path (/services/T…/B…/<secret>, as Slack's are) registered with Webhook; the sink
// records what is posted to it and answers as set (200 "ok" by default). A path nobody
// registered gets 404 "no_service", as Slack answers for a revoked webhook.
type SlackSink struct {
	URL string // http://127.0.0.1:port

	srv   *httptest.Server
	mu    sync.Mutex
	hooks map[string]*SlackWebhook // by path
}

// SlackWebhook is one webhook of the sink.
type SlackWebhook struct {
	URL  string // the whole webhook URL, secret included
	Path string

	sink    *SlackSink
	posts   []SlackPost
	replies []Reply
}

// SlackPost is one message posted to a webhook.
type SlackPost struct {
	ContentType string
	Body        string
	Text        string // the message's fallback "text", "" when the body is not JSON
}

// StartSlackSink serves a sink on a free loopback port until the test ends.
func StartSlackSink(t testing.TB) *SlackSink {
	t.Helper()
	s := &SlackSink{hooks: map[string]*SlackWebhook{}}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.srv.URL
	t.Cleanup(s.srv.Close)
	return s
}

// Webhook registers the webhook /services/T0SANDBOX/B0SANDBOX/<secret> and returns it.
func (s *SlackSink) Webhook(secret string) *SlackWebhook {
	path := "/services/T0SANDBOX/B0SANDBOX/" + secret
	h := &SlackWebhook{URL: s.URL + path, Path: path, sink: s}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hooks[path] = h
	return h
}

// SetReplies sets the answers to the posts that follow: the n-th post gets replies[n], the last
// one repeats. No replies: 200 "ok". "{url}" in a reply's body becomes the webhook's URL, secret
// included, as a proxy or a broken server might echo it.
func (h *SlackWebhook) SetReplies(replies ...Reply) {
	h.sink.mu.Lock()
	defer h.sink.mu.Unlock()
	h.replies = replies
}

// Posts returns what was posted to the webhook so far.
func (h *SlackWebhook) Posts() []SlackPost {
	h.sink.mu.Lock()
	defer h.sink.mu.Unlock()
	return append([]SlackPost(nil), h.posts...)
}

func (s *SlackSink) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	h, ok := s.hooks[r.URL.Path]
	s.mu.Unlock()
	if !ok || r.Method != http.MethodPost {
		w.WriteHeader(http.StatusNotFound)
		_, _ = io.WriteString(w, "no_service")
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, "invalid_payload")
		return
	}
	p := SlackPost{ContentType: r.Header.Get("Content-Type"), Body: string(body)}
	var msg struct {
		Text string `json:"text"`
	}
	if json.Unmarshal(body, &msg) == nil {
		p.Text = msg.Text
	}
	s.mu.Lock()
	n := len(h.posts)
	h.posts = append(h.posts, p)
	rep := Reply{Status: http.StatusOK, Body: "ok"}
	if len(h.replies) > 0 {
		rep = h.replies[min(n, len(h.replies)-1)]
	}
	s.mu.Unlock()
	for k, v := range rep.Header {
		w.Header().Set(k, v)
	}
	if w.Header().Get("Content-Type") == "" {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	}
	w.WriteHeader(rep.Status)
	_, _ = io.WriteString(w, strings.ReplaceAll(rep.Body, "{url}", h.URL))
}
