package notify

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// secretPath is the secret part of the test webhook URL; no output may contain it.
const secretPath = "/services/T000/B000/XXXXSECRET"

// secretMarkers are the pieces of the webhook URL checked for in every output.
var secretMarkers = []string{"XXXXSECRET", "T000/B000"}

// reply is one answer of the sink; the last one repeats.
type reply struct {
	code       int
	body       string
	retryAfter string
}

// sink stands in for Slack's webhook endpoint on loopback: it records what was posted and
// answers as scripted (default 200 "ok"); a wrong path gets 404 no_service, like Slack.
type sink struct {
	t       *testing.T
	srv     *httptest.Server
	mu      sync.Mutex
	replies []reply
	posts   [][]byte
	types   []string
}

func newSink(t *testing.T, replies ...reply) *sink {
	t.Helper()
	s := &sink{t: t, replies: replies}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *sink) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != secretPath {
		w.WriteHeader(http.StatusNotFound)
		_, _ = io.WriteString(w, "no_service")
		return
	}
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	n := len(s.posts)
	s.posts = append(s.posts, body)
	s.types = append(s.types, r.Header.Get("Content-Type"))
	rep := reply{code: 200, body: "ok"}
	if len(s.replies) > 0 {
		rep = s.replies[min(n, len(s.replies)-1)]
	}
	s.mu.Unlock()
	if rep.retryAfter != "" {
		w.Header().Set("Retry-After", rep.retryAfter)
	}
	w.WriteHeader(rep.code)
	_, _ = io.WriteString(w, rep.body)
}

// URL is the webhook URL, secret included.
func (s *sink) URL() string { return s.srv.URL + secretPath }

// URLFile writes the URL into a secret file, as a mounted Secret would hold it.
func (s *sink) URLFile() string {
	p := filepath.Join(s.t.TempDir(), "url")
	require.NoError(s.t, os.WriteFile(p, []byte(s.URL()+"\n"), 0o600))
	return p
}

func (s *sink) Posts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.posts)
}

// Last decodes the last message posted into the package's own structs, strictly.
func (s *sink) Last() Message {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	require.NotEmpty(s.t, s.posts, "nothing was posted")
	assert.Equal(s.t, "application/json; charset=utf-8", s.types[len(s.types)-1])
	return decodeStrict(s.t, s.posts[len(s.posts)-1])
}

func decodeStrict(t *testing.T, b []byte) Message {
	t.Helper()
	require.True(t, json.Valid(b), "not JSON: %s", b)
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	var m Message
	require.NoError(t, dec.Decode(&m), "%s", b)
	return m
}

// assertNoSecret checks that no piece of the webhook URL is in texts.
func assertNoSecret(t *testing.T, texts ...string) {
	t.Helper()
	for _, s := range texts {
		for _, m := range secretMarkers {
			assert.NotContains(t, s, m, "the webhook URL leaked")
		}
	}
}

// readResults returns every result file in dir, concatenated.
func readResults(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	entries, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return out
	}
	require.NoError(t, err)
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		require.NoError(t, err)
		out[e.Name()] = string(b)
	}
	return out
}

// allTexts lists every text of m, fallback included.
func allTexts(m Message) []string {
	out := []string{m.Text}
	for _, b := range m.Blocks {
		if b.Text != nil {
			out = append(out, b.Text.Text)
		}
		for _, f := range b.Fields {
			out = append(out, f.Text)
		}
		for _, e := range b.Elements {
			out = append(out, e.Text)
		}
	}
	return out
}
