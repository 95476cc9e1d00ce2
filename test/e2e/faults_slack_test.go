package e2e

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/release-to-prod/release-to-prod/test/faults"
)

// slackSecretPath is the secret part of the webhook URL: no output may contain it.
const slackSecretPath = "/services/T0FAULTS/B0FAULTS/faults-webhook-secret"

// slackSink records the messages posted to the webhook and answers 200 "ok", as Slack does.
type slackSink struct {
	mu    sync.Mutex
	posts int
}

func (k *slackSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != slackSecretPath {
		w.WriteHeader(http.StatusNotFound)
		_, _ = io.WriteString(w, "no_service")
		return
	}
	_, _ = io.Copy(io.Discard, r.Body)
	k.mu.Lock()
	k.posts++
	k.mu.Unlock()
	_, _ = io.WriteString(w, "ok")
}

func (k *slackSink) count() int { k.mu.Lock(); defer k.mu.Unlock(); return k.posts }

// TestNotifyFaults puts the Slack webhook behind injected faults. Transient ones are retried
// and the message is delivered once; persistent ones end with a warning and exit 0 within
// TIMEOUT: a notification never fails the run. A reply lost after Slack took the message is
// posted again (a duplicate beats a lost release notification).
func TestNotifyFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("sandbox: serves a Slack sink")
	}
	post := faults.MethodPath("POST", "/services/")
	tests := []struct {
		name      string
		fault     faults.Fault
		lost      *lostReply
		timeout   string
		delivered bool
		posts     int
	}{
		{fault: faults.Fault{Kind: faults.Status, Code: 429, RetryAfter: "1", First: 2, Match: post}, delivered: true, posts: 1},
		{fault: faults.Fault{Kind: faults.Status, Code: 500, First: 2, Match: post}, delivered: true, posts: 1},
		{fault: faults.Fault{Kind: faults.Status, Code: 503, First: 2, Match: post}, delivered: true, posts: 1},
		{fault: faults.Fault{Kind: faults.Reset, First: 1, Match: post}, delivered: true, posts: 1},
		// Each attempt gets at most 10s: a hang costs that, then the retry delivers.
		{fault: faults.Fault{Kind: faults.Hang, First: 1, Match: post}, timeout: "20s", delivered: true, posts: 1},
		{fault: faults.Fault{Kind: faults.Status, Code: 503, Match: post}},
		{fault: faults.Fault{Kind: faults.Reset, Match: post}},
		{fault: faults.Fault{Kind: faults.Hang, Match: post}},
		{name: "lost reply (reset) first 1", lost: &lostReply{match: post, first: 1}, delivered: true, posts: 2},
	}
	for _, tt := range tests {
		name := tt.name
		if name == "" {
			name = tt.fault.String()
		}
		t.Run(name, func(t *testing.T) {
			sink := &slackSink{}
			inj := faults.New()
			if tt.lost == nil {
				inj = faults.New(tt.fault)
			}
			var h http.Handler = sink
			if tt.lost != nil {
				h = tt.lost.Wrap(h)
			}
			srv := httptest.NewServer(inj.Wrap(h))
			t.Cleanup(srv.Close)
			t.Cleanup(inj.Close)
			urlFile := filepath.Join(t.TempDir(), "url")
			require.NoError(t, os.WriteFile(urlFile, []byte(srv.URL+slackSecretPath), 0o600))
			timeout := tt.timeout
			if timeout == "" {
				timeout = "5s"
			}
			start := time.Now()
			r := runStep(t, "notify", map[string]string{"WEBHOOK_URL_FILE": urlFile, "STATUS": "Succeeded", "RELEASE_STATUS": "Succeeded",
				"COMPONENT": "automation-analytics-backend-main", "COMMIT_SHA": sha, "TIMEOUT": timeout})
			elapsed := time.Since(start)
			assert.Equal(t, 0, r.Code, "a notification never fails the run")
			assert.NotContains(t, r.Output, "faults-webhook-secret")
			assert.Equal(t, tt.posts, sink.count(), "messages Slack took")
			d, _ := time.ParseDuration(timeout)
			assert.Less(t, elapsed, d+3*time.Second, "within TIMEOUT")
			if tt.delivered {
				assert.Equal(t, "true", r.Results["NOTIFIED"])
				assert.Contains(t, r.Output, "✓ notification sent to Slack (127.0.0.1)")
				return
			}
			assert.Equal(t, "false", r.Results["NOTIFIED"])
			assert.Contains(t, r.Output, "! notification not sent: ")
			assert.Contains(t, r.Output, "likely cause: ")
		})
	}
}
