package notify

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/release-to-prod/release-to-prod/pkg/step/failure"
	"github.com/release-to-prod/release-to-prod/pkg/step/outcome"
)

func fastOptions() WebhookOptions {
	return WebhookOptions{Attempts: 3, BaseBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond}
}

func TestWebhookPost(t *testing.T) {
	tests := []struct {
		name      string
		replies   []reply
		wantPosts int
		wantCode  int
		wantReply string
		wantID    failure.ID
		causeHas  string
	}{
		{name: "ok", wantPosts: 1},
		{name: "500 then 200: delivered after retry", replies: []reply{{code: 500, body: "rollup_error"}, {code: 200, body: "ok"}}, wantPosts: 2},
		{name: "429 with Retry-After 0: retried", replies: []reply{{code: 429, retryAfter: "0"}, {code: 200, body: "ok"}}, wantPosts: 2},
		{name: "persistent 500", replies: []reply{{code: 500, body: "rollup_error"}}, wantPosts: 3, wantCode: 500, wantReply: "rollup_error", wantID: failure.ServerError, causeHas: "server errors"},
		{name: "persistent 429", replies: []reply{{code: 429, retryAfter: "0", body: "rate_limited"}}, wantPosts: 3, wantCode: 429, wantID: failure.RateLimited},
		{name: "400 invalid_payload not retried", replies: []reply{{code: 400, body: "invalid_payload"}}, wantPosts: 1, wantCode: 400, wantReply: "invalid_payload", causeHas: "could not parse"},
		{name: "403 action_prohibited", replies: []reply{{code: 403, body: "action_prohibited"}}, wantPosts: 1, wantCode: 403, wantReply: "action_prohibited", wantID: failure.Unauthorized, causeHas: "policy"},
		{name: "404 no_service", replies: []reply{{code: 404, body: "no_service"}}, wantPosts: 1, wantCode: 404, wantReply: "no_service", causeHas: "revoked"},
		{name: "410 channel_is_archived", replies: []reply{{code: 410, body: "channel_is_archived"}}, wantPosts: 1, wantCode: 410, wantReply: "channel_is_archived", causeHas: "archived"},
		{name: "reply echoing the URL is scrubbed", replies: []reply{{code: 400, body: "<html>bad request for " + secretPath + "</html>"}}, wantPosts: 1, wantCode: 400, causeHas: "refused"},
		{name: "any 2xx is success", replies: []reply{{code: 204}}, wantPosts: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSink(t, tt.replies...)
			w, err := NewWebhook(s.URL(), fastOptions())
			require.NoError(t, err)
			assert.Equal(t, "127.0.0.1", w.Host())
			err = w.Post(context.Background(), Build(fullNotification(outcome.Released)))
			assert.Equal(t, tt.wantPosts, s.Posts())
			if tt.wantCode == 0 {
				require.NoError(t, err)
				m := s.Last()
				require.NoError(t, m.Validate())
				assert.Equal(t, ":rocket: Released automation-analytics-backend-main", m.Blocks[0].Text.Text)
				return
			}
			var de *DeliveryError
			require.ErrorAs(t, err, &de)
			assert.Equal(t, tt.wantCode, de.Code)
			assert.Equal(t, tt.wantID, de.ID)
			if tt.wantReply != "" {
				assert.Equal(t, tt.wantReply, de.Reply)
				assert.Contains(t, err.Error(), tt.wantReply)
			}
			assert.Contains(t, de.Cause, tt.causeHas)
			assert.NotEmpty(t, de.Fix)
			assert.Contains(t, err.Error(), "Slack (127.0.0.1)")
			assertNoSecret(t, err.Error(), de.Cause, de.Fix, de.Reply)
		})
	}
}

func TestWebhookTransportErrorsHideTheURL(t *testing.T) {
	// A port nobody listens on: connection refused.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	w, err := NewWebhook("http://"+addr+secretPath+"?token=XXXXSECRET", fastOptions())
	require.NoError(t, err)
	err = w.Post(context.Background(), Build(Notification{Outcome: outcome.Released}))
	var de *DeliveryError
	require.ErrorAs(t, err, &de)
	assert.Equal(t, failure.Network, de.ID)
	assert.Contains(t, de.Cause, "cannot reach Slack")
	assertNoSecret(t, err.Error(), de.Cause, de.Fix)

	// A cancelled context.
	s := newSink(t)
	w, err = NewWebhook(s.URL(), fastOptions())
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err = w.Post(ctx, Build(Notification{Outcome: outcome.Released}))
	require.ErrorAs(t, err, &de)
	assert.True(t, errors.As(err, &de))
	assertNoSecret(t, err.Error(), de.Cause, de.Fix)
}

func TestNewWebhookRejects(t *testing.T) {
	tests := []struct{ name, url, want string }{
		{"not a URL", "XXXXSECRET", "does not hold a URL"},
		{"two lines", "https://hooks.slack.com/services/T000/B000/XXXXSECRET\nmore", "does not hold a URL"},
		{"plain http to a remote host", "http://hooks.slack.com/services/T000/B000/XXXXSECRET", "not https"},
		{"other scheme", "ftp://hooks.slack.com/services/T000/B000/XXXXSECRET", "not https"},
		{"bad escape", "https://hooks.slack.com/services/T000/B000/XXXXSECRET%zz", "does not hold a URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewWebhook(tt.url, WebhookOptions{})
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
			assertNoSecret(t, err.Error())
		})
	}
	for _, ok := range []string{"https://hooks.slack.com/services/T/B/X", "http://localhost:8080/x", "http://[::1]:9/x"} {
		_, err := NewWebhook(ok, WebhookOptions{})
		assert.NoError(t, err, ok)
	}
}
