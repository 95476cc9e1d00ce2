package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/release-to-prod/release-to-prod/pkg/clients/httpclient"
	"github.com/release-to-prod/release-to-prod/pkg/step/failure"
)

// Webhook is a Slack incoming webhook. Its URL is a credential (anyone holding it can post to
// the channel), so nothing here prints it: messages and errors name the host only.
type Webhook struct {
	url    string
	host   string
	client *httpclient.Client
	// secrets are the forms of the URL that could appear in an error from below (the URL, its
	// redacted form, its path), longest first, each replaced by the host.
	secrets []string
}

// WebhookOptions configure NewWebhook.
type WebhookOptions struct {
	// Timeout bounds each attempt (default 10s); the caller's context bounds the whole delivery.
	Timeout  time.Duration
	Attempts int // total tries (default 4)
	// BaseBackoff and MaxBackoff override the client's backoff (default 500ms, capped at 10s;
	// tests make them short).
	BaseBackoff, MaxBackoff time.Duration
}

// NewWebhook checks rawURL and returns a Webhook for it. It must be an https URL; plain http is
// accepted only for a loopback host (a local sink or proxy), so the secret never crosses a
// network in clear. The error never contains the URL.
func NewWebhook(rawURL string, opts WebhookOptions) (*Webhook, error) {
	rawURL = strings.TrimSpace(rawURL)
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" || strings.ContainsAny(rawURL, " \t\r\n") {
		return nil, failure.New(failure.InvalidInput, nil, "the webhook file does not hold a URL (want https://hooks.slack.com/services/…)")
	}
	host := u.Hostname()
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && httpclient.IsLoopback(host):
	default:
		return nil, failure.New(failure.InvalidInput, nil, "the webhook URL for %s is not https: refusing to send the secret in clear", host)
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 10 * time.Second
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = 10 * time.Second
	}
	c, err := httpclient.New("Slack", httpclient.WithTimeout(opts.Timeout), httpclient.WithAttempts(opts.Attempts),
		httpclient.WithBackoff(opts.BaseBackoff, opts.MaxBackoff),
		// A webhook POST is not idempotent: a retry after a reply was lost may post the message
		// twice. A duplicate message beats a lost one: people act on release notifications.
		httpclient.WithRetryNonIdempotent())
	if err != nil {
		return nil, fmt.Errorf("creating the Slack client: %w", err)
	}
	w := &Webhook{url: rawURL, host: host, client: c}
	secrets := []string{rawURL, httpclient.Redact(rawURL), u.String()}
	for _, p := range []string{u.EscapedPath(), u.Path, u.RawQuery} {
		if len(p) > 1 {
			secrets = append(secrets, p)
		}
	}
	sort.Slice(secrets, func(i, j int) bool { return len(secrets[i]) > len(secrets[j]) })
	w.secrets = secrets
	return w, nil
}

// Host is the webhook's host, the only part of it that may be shown.
func (w *Webhook) Host() string { return w.host }

// scrub replaces every form of the URL in s by the host.
func (w *Webhook) scrub(s string) string {
	for _, sec := range w.secrets {
		s = strings.ReplaceAll(s, sec, w.host)
	}
	return s
}

// Post sends m. Any 2xx reply is success (Slack answers 200 "ok"). 429 and 5xx are retried,
// honouring Retry-After; other replies fail at once with Slack's error code explained.
func (w *Webhook) Post(ctx context.Context, m Message) error {
	// Not HTML-escaped: the entities Slack needs are already in the text, and the body stays
	// readable in a proxy's log.
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(m); err != nil {
		return fmt.Errorf("encoding the Slack message: %w", err)
	}
	body := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	h := http.Header{"Content-Type": {"application/json; charset=utf-8"}}
	resp, err := w.client.Do(ctx, http.MethodPost, w.url, h, body)
	if err != nil {
		return w.transportError(err)
	}
	if resp.Code >= 200 && resp.Code < 300 {
		return nil
	}
	return w.replyError(resp)
}

// DeliveryError is a message Slack did not take. Its text names the host, never the URL.
type DeliveryError struct {
	Host  string
	Code  int    // HTTP status; 0 when no reply came
	Reply string // Slack's error code (e.g. no_service), or a scrubbed snippet of the reply
	ID    failure.ID
	Cause string
	Fix   string
	msg   string
}

func (e *DeliveryError) Error() string { return e.msg }

// slackCode matches Slack's error replies, which are short snake_case codes.
var slackCode = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)

// replyAdvice explains Slack's documented webhook errors and the statuses they come with.
var replyAdvice = map[string][2]string{
	"invalid_payload": {"Slack could not parse the message (a bug in the notify step, or a proxy altered the body)",
		"report it with the step's log; the release itself is not affected"},
	"invalid_blocks": {"Slack rejected the message's blocks (a bug in the notify step)",
		"report it with the step's log; the release itself is not affected"},
	"no_service": {"the webhook was revoked or its URL is wrong (the Slack app was removed or the webhook deleted)",
		"create a new incoming webhook in Slack and update the URL in the slack_webhook_secret Secret"},
	"no_team": {"the Slack workspace of the webhook no longer exists or the URL is wrong",
		"create a new incoming webhook and update the URL in the slack_webhook_secret Secret"},
	"channel_not_found": {"the channel the webhook posts to no longer exists",
		"create a new incoming webhook for an existing channel and update the secret"},
	"channel_is_archived": {"the channel the webhook posts to is archived",
		"unarchive the channel, or create a webhook for another channel and update the secret"},
	"action_prohibited": {"a Slack workspace policy stops this webhook from posting (e.g. an admin restricted the channel or the app)",
		"ask a Slack admin to allow the app to post there, or use a webhook for another channel"},
	"posting_to_general_channel_denied": {"only admins may post to the workspace's general channel",
		"use a webhook for another channel"},
	"user_not_found": {"the user the webhook posts to does not exist",
		"create a webhook for a channel and update the secret"},
}

func (w *Webhook) replyError(r *httpclient.Response) error {
	reply := strings.TrimSpace(string(r.Body))
	e := &DeliveryError{Host: w.host, Code: r.Code}
	if slackCode.MatchString(reply) {
		e.Reply = reply
	} else if reply != "" {
		e.Reply = fmt.Sprintf("%q", w.scrub(httpclient.Snippet([]byte(reply))))
	}
	if adv, ok := replyAdvice[e.Reply]; ok {
		e.Cause, e.Fix = adv[0], adv[1]
	}
	switch {
	case r.Code == http.StatusTooManyRequests:
		e.ID = failure.RateLimited
		e.Cause, e.Fix = "Slack kept answering 429 Too Many Requests after the retries", "nothing to do for this release; if it keeps happening, fewer messages go to this webhook"
	case r.Code >= 500:
		e.ID = failure.ServerError
		e.Cause, e.Fix = "Slack kept answering with server errors after the retries", "check https://slack-status.com; the release itself is not affected"
	case r.Code == http.StatusUnauthorized || r.Code == http.StatusForbidden:
		e.ID = failure.Unauthorized
		if e.Cause == "" {
			e.Cause, e.Fix = "Slack refused the webhook", "check the webhook in Slack and the URL in the slack_webhook_secret Secret"
		}
	case e.Cause == "":
		e.Cause, e.Fix = "Slack refused the message", "check the webhook in Slack (Apps → Incoming Webhooks) and the secret bound to the slack-webhook workspace"
	}
	e.msg = fmt.Sprintf("Slack (%s) answered %d %s", w.host, r.Code, http.StatusText(r.Code))
	if e.Reply != "" {
		e.msg += ": " + e.Reply
	}
	return e
}

func (w *Webhook) transportError(err error) error {
	e := &DeliveryError{Host: w.host, msg: w.scrub(err.Error())}
	// The catalog classifies network, DNS, TLS and timeouts; the words are ours, because its
	// advice is written for gates (which fail closed) and a notification does not.
	adv, _ := failure.Explain(err)
	e.ID = adv.ID
	switch {
	case adv.ID == failure.Network:
		e.Cause = "cannot reach Slack (" + w.host + "): DNS lookup failed, no route to host, or connection refused"
		e.Fix = "check the cluster's egress to " + w.host + " (NetworkPolicy, proxy, firewall)"
	case adv.ID == failure.TLS:
		e.Cause = "the certificate of " + w.host + " is not trusted (a TLS-intercepting proxy?)"
		e.Fix = "check the egress proxy; the step trusts the system CA bundle only"
	case adv.ID == failure.Timeout:
		e.Cause = "Slack (" + w.host + ") did not answer in time"
		e.Fix = "check the egress to " + w.host + " and https://slack-status.com; raise the timeout param if it is just slow"
	case errors.Is(err, context.Canceled):
		e.Cause, e.Fix = "the step was stopped (the PipelineRun was cancelled or timed out)", "nothing to do"
	default:
		e.Cause = "no usable reply from Slack (" + w.host + ")"
		e.Fix = "check the cluster's egress to " + w.host + "; re-run if the message matters"
	}
	return e
}
