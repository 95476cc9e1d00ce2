// Package httpclient is the HTTP client of every step that calls a web API (Quay, Alertmanager,
// Prometheus, Slack): a timeout per attempt, retries of idempotent requests with capped
// exponential backoff on 429/5xx and transport errors, Retry-After honoured, context cancellation
// respected, TLS verification on with an optional CA bundle, and credentials read from files and
// never logged.
package httpclient

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/release-to-prod/release-to-prod/pkg/step"
	"github.com/release-to-prod/release-to-prod/pkg/step/failure"
)

// Defaults of New, in one place; the options override them.
const (
	DefaultAttempts    = 4
	DefaultTimeout     = 30 * time.Second
	DefaultBaseBackoff = 500 * time.Millisecond
	DefaultMaxBackoff  = 30 * time.Second
)

// Client calls one service. It is built by New and not changed afterwards.
type Client struct {
	service     string        // human name used in errors, e.g. "Quay"
	attempts    int           // total tries for a retryable request
	timeout     time.Duration // per attempt
	baseBackoff time.Duration // first backoff, doubled each retry
	maxBackoff  time.Duration // cap for backoff and Retry-After
	// auth sets credentials on each request; nil for none.
	auth func(*http.Request)
	// secrets are values (tokens, passwords) replaced by [redacted] wherever the client quotes a
	// reply in an error: a server may echo the credentials it refused.
	secrets []string
	// retryNonIdempotent allows retrying other methods than GET/HEAD.
	retryNonIdempotent bool
	caFile             string

	hc *http.Client
}

// Option configures New.
type Option func(*Client)

// WithTimeout bounds each attempt (default DefaultTimeout); the caller's context bounds the whole
// call. Zero or less keeps the default.
func WithTimeout(d time.Duration) Option {
	return func(c *Client) {
		if d > 0 {
			c.timeout = d
		}
	}
}

// WithAttempts sets the total tries of a retryable request (default DefaultAttempts); 1 never
// retries. Zero or less keeps the default.
func WithAttempts(n int) Option {
	return func(c *Client) {
		if n > 0 {
			c.attempts = n
		}
	}
}

// WithBackoff sets the first wait between attempts, doubled each retry, and its cap, which also
// bounds a server's Retry-After (defaults DefaultBaseBackoff and DefaultMaxBackoff). A zero
// value keeps that default.
func WithBackoff(base, maxWait time.Duration) Option {
	return func(c *Client) {
		if base > 0 {
			c.baseBackoff = base
		}
		if maxWait > 0 {
			c.maxBackoff = maxWait
		}
	}
}

// WithCAFile adds the PEM bundle in path to the system roots; New fails when it holds no
// certificate. Empty means system roots only.
func WithCAFile(path string) Option { return func(c *Client) { c.caFile = path } }

// WithBearerToken sends token as a bearer token and redacts it from errors.
func WithBearerToken(token string) Option {
	return func(c *Client) {
		c.auth = func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+token) }
		c.secrets = append(c.secrets, token)
	}
}

// WithBasicAuth sends user and password as basic auth and redacts the password from errors.
func WithBasicAuth(user, password string) Option {
	return func(c *Client) {
		c.auth = func(r *http.Request) { r.SetBasicAuth(user, password) }
		c.secrets = append(c.secrets, password)
	}
}

// WithRetryNonIdempotent allows retrying other methods than GET/HEAD: only for endpoints the
// caller knows to be safe to repeat (a Slack message may be posted twice rather than lost).
func WithRetryNonIdempotent() Option { return func(c *Client) { c.retryNonIdempotent = true } }

// New returns a Client for service (its name in errors, e.g. "Quay"), with the defaults above
// changed by opts.
func New(service string, opts ...Option) (*Client, error) {
	c := &Client{service: service, attempts: DefaultAttempts, timeout: DefaultTimeout,
		baseBackoff: DefaultBaseBackoff, maxBackoff: DefaultMaxBackoff}
	if c.service == "" {
		c.service = "the server"
	}
	for _, o := range opts {
		o(c)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if c.caFile != "" {
		pem, err := readCABundle(c.caFile)
		if err != nil {
			return nil, err
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, failure.New(failure.InvalidInput, nil, "CA bundle %s holds no PEM certificate", c.caFile)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	c.hc = &http.Client{Transport: tr, CheckRedirect: sameHostRedirects}
	return c, nil
}

// CABundleKeys are the keys a CA bundle is read under, in order: ca.crt (the service CA, a
// Secret of kubernetes.io/tls or a ConfigMap made for it), then ca-bundle.crt, the key of
// Konflux's trusted-ca ConfigMap (and OpenShift's injected trusted CA bundle).
// service-ca.crt is the key of OpenShift's openshift-service-ca.crt ConfigMap.
var CABundleKeys = []string{"ca.crt", "ca-bundle.crt", "service-ca.crt"}

// readCABundle reads the bundle at path; when path names one of CABundleKeys and is missing,
// the others in the same folder are tried, so that a CA bundle ConfigMap of either kind works.
func readCABundle(path string) ([]byte, error) {
	pem, err := os.ReadFile(path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) || !slices.Contains(CABundleKeys, filepath.Base(path)) {
		if err != nil {
			return nil, fmt.Errorf("reading CA bundle: %w", err)
		}
		return pem, nil
	}
	if alt, ok := step.AlternateFile(path, CABundleKeys); ok {
		if pem, err := os.ReadFile(alt); err == nil {
			return pem, nil
		}
	}
	return nil, failure.New(failure.InvalidInput, nil, "reading CA bundle: %s holds none of the keys %s (the ca_bundle_configmap ConfigMap must have one of them)",
		filepath.Dir(path), strings.Join(CABundleKeys, ", "))
}

// Service is the name of the service the client calls, as errors show it.
func (c *Client) Service() string { return c.service }

// sameHostRedirects stops credentials from following a redirect to another host.
func sameHostRedirects(req *http.Request, via []*http.Request) error {
	if len(via) >= 5 {
		return errors.New("too many redirects")
	}
	if req.URL.Host != via[0].URL.Host {
		req.Header.Del("Authorization")
	}
	return nil
}

// Response is a fully read response.
type Response struct {
	Code   int
	Header http.Header
	Body   []byte
}

// maxBody bounds what is read of a reply, so that a hostile or broken server cannot exhaust the
// step's memory.
const maxBody = 32 << 20

// Do sends a request with body (nil for none) and returns the response of the last attempt.
// Only transport failures and contexts end in an error here; callers decide what a status means
// (StatusError helps). Retries: 429, 502, 503, 504, 500 and transport errors, for GET/HEAD (and
// other methods when WithRetryNonIdempotent).
func (c *Client) Do(ctx context.Context, method, rawURL string, header http.Header, body []byte) (*Response, error) {
	retryable := method == http.MethodGet || method == http.MethodHead || c.retryNonIdempotent
	var lastErr error
	for attempt := 1; ; attempt++ {
		resp, err := c.once(ctx, method, rawURL, header, body)
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%s %s %s: %w", c.service, method, Redact(rawURL), ctx.Err())
		}
		var wait time.Duration
		switch {
		case err != nil:
			lastErr = err
			wait = c.backoff(attempt)
		case resp.Code == http.StatusTooManyRequests || resp.Code >= 500 && resp.Code != http.StatusNotImplemented:
			lastErr = nil
			wait = c.backoff(attempt)
			if ra, ok := retryAfter(resp.Header.Get("Retry-After")); ok {
				wait = min(ra, c.maxBackoff)
			}
		default:
			return resp, nil
		}
		if !retryable || attempt >= c.attempts {
			if lastErr != nil {
				return nil, lastErr
			}
			return resp, nil
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("%s %s %s: %w", c.service, method, Redact(rawURL), ctx.Err())
		case <-t.C:
		}
	}
}

func (c *Client) once(ctx context.Context, method, rawURL string, header http.Header, body []byte) (*Response, error) {
	actx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(actx, method, rawURL, rd)
	if err != nil {
		return nil, fmt.Errorf("%s: building request for %s: %w", c.service, Redact(rawURL), err)
	}
	for k, vs := range header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	if c.auth != nil {
		c.auth(req)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s %s: %w", c.service, method, Redact(rawURL), unwrapURLError(err))
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, fmt.Errorf("%s %s %s: reading reply: %w", c.service, method, Redact(rawURL), err)
	}
	return &Response{Code: resp.StatusCode, Header: resp.Header, Body: b}, nil
}

// unwrapURLError drops *url.Error, whose message repeats the full URL (query included).
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

func (c *Client) backoff(attempt int) time.Duration {
	d := c.baseBackoff << (attempt - 1)
	if d <= 0 || d > c.maxBackoff {
		d = c.maxBackoff
	}
	// Jitter of up to a quarter keeps racing runs from retrying in lockstep.
	return d - time.Duration(rand.Int64N(int64(d)/4+1))
}

func retryAfter(v string) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0), true
	}
	return 0, false
}

// StatusError turns an unexpected status into an error the failure catalog classifies. The
// body is trimmed and redacted.
func (c *Client) StatusError(method, rawURL string, r *Response) error {
	return &failure.HTTPStatusError{Service: c.service, Method: method, URL: Redact(rawURL), Code: r.Code, Body: Snippet([]byte(c.redactSecrets(string(r.Body))))}
}

func (c *Client) redactSecrets(s string) string {
	for _, secret := range c.secrets {
		if len(secret) >= 4 { // shorter values would redact ordinary words
			s = strings.ReplaceAll(s, secret, "[redacted]")
		}
	}
	return s
}

// Snippet is the start of a body, on one line, for an error message.
func Snippet(b []byte) string {
	s := strings.Join(strings.Fields(string(b)), " ")
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

// Redact removes user info, the query and the fragment from a URL for messages: the one place
// where the project decides what of a URL may be shown (a Slack webhook carries its secret in the
// path: callers never print those URLs at all).
func Redact(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "<invalid URL>"
	}
	u.User = nil
	u.RawQuery = ""
	u.Fragment = ""
	return u.String()
}

// IsLoopback reports whether host (a host name or IP address, optionally bracketed and with a
// port: the Host of a URL or the registry part of an image reference) is this machine:
// "localhost", 127.0.0.0/8 or ::1. It is the one rule for plain HTTP in the project: credentials,
// webhooks and verdicts go in clear text only to a loopback host (a sandbox, a local sink, a
// port-forward), where no network lies between the step and the server. Any other address,
// private ranges such as 10.0.0.0/8 included, needs https.
func IsLoopback(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// BearerFromFile reads the token in path (trimmed, read once) and returns the option that sends
// it as a bearer token (WithBearerToken). The error is the file's, for the caller to name the
// setting.
func BearerFromFile(path string) (Option, error) {
	tok, err := ReadSecret(path)
	if err != nil {
		return nil, err
	}
	return WithBearerToken(tok), nil
}

// ReadSecret reads a secret file, trimmed; an empty file is an error.
func ReadSecret(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("reading secret file: %w", err)
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return "", failure.New(failure.InvalidInput, nil, "secret file %s is empty", path)
	}
	return s, nil
}
