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
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/release-to-prod/release-to-prod/pkg/failure"
)

// Client calls one service.
type Client struct {
	Service     string        // human name used in errors, e.g. "Quay"
	Attempts    int           // total tries for a retryable request (default 4)
	Timeout     time.Duration // per attempt (default 30s)
	BaseBackoff time.Duration // first backoff (default 500ms), doubled each retry
	MaxBackoff  time.Duration // cap for backoff and Retry-After (default 30s)
	// Auth sets credentials on each request; nil for none.
	Auth func(*http.Request)
	// Secrets are values (tokens, passwords) replaced by [redacted] wherever the client quotes a
	// reply in an error: a server may echo the credentials it refused.
	Secrets []string
	// RetryNonIdempotent allows retrying other methods than GET/HEAD: only for endpoints the caller
	// knows to be safe to repeat (a Slack message may be posted twice rather than lost).
	RetryNonIdempotent bool

	hc *http.Client
}

// Options configure New.
type Options struct {
	Service            string
	CAFile             string // PEM bundle added to the system roots; empty for system roots only
	Timeout            time.Duration
	Attempts           int
	Auth               func(*http.Request)
	Secrets            []string // see Client.Secrets; BearerFromFile adds the token itself
	RetryNonIdempotent bool
}

// New returns a Client for opts.
func New(opts Options) (*Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if opts.CAFile != "" {
		pem, err := os.ReadFile(opts.CAFile)
		if err != nil {
			return nil, fmt.Errorf("reading CA bundle: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, failure.New(failure.InvalidInput, nil, "CA bundle %s holds no PEM certificate", opts.CAFile)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	c := &Client{
		Service:            opts.Service,
		Attempts:           opts.Attempts,
		Timeout:            opts.Timeout,
		Auth:               opts.Auth,
		Secrets:            opts.Secrets,
		RetryNonIdempotent: opts.RetryNonIdempotent,
		hc:                 &http.Client{Transport: tr, CheckRedirect: sameHostRedirects},
	}
	c.defaults()
	return c, nil
}

func (c *Client) defaults() {
	if c.Attempts <= 0 {
		c.Attempts = 4
	}
	if c.Timeout <= 0 {
		c.Timeout = 30 * time.Second
	}
	if c.BaseBackoff <= 0 {
		c.BaseBackoff = 500 * time.Millisecond
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = 30 * time.Second
	}
	if c.Service == "" {
		c.Service = "the server"
	}
	if c.hc == nil {
		c.hc = &http.Client{CheckRedirect: sameHostRedirects}
	}
}

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
// other methods when RetryNonIdempotent).
func (c *Client) Do(ctx context.Context, method, rawURL string, header http.Header, body []byte) (*Response, error) {
	c.defaults()
	retryable := method == http.MethodGet || method == http.MethodHead || c.RetryNonIdempotent
	var lastErr error
	for attempt := 1; ; attempt++ {
		resp, err := c.once(ctx, method, rawURL, header, body)
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%s %s %s: %w", c.Service, method, Redact(rawURL), ctx.Err())
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
				wait = min(ra, c.MaxBackoff)
			}
		default:
			return resp, nil
		}
		if !retryable || attempt >= c.Attempts {
			if lastErr != nil {
				return nil, lastErr
			}
			return resp, nil
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("%s %s %s: %w", c.Service, method, Redact(rawURL), ctx.Err())
		case <-t.C:
		}
	}
}

func (c *Client) once(ctx context.Context, method, rawURL string, header http.Header, body []byte) (*Response, error) {
	actx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(actx, method, rawURL, rd)
	if err != nil {
		return nil, fmt.Errorf("%s: building request for %s: %w", c.Service, Redact(rawURL), err)
	}
	for k, vs := range header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	if c.Auth != nil {
		c.Auth(req)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s %s: %w", c.Service, method, Redact(rawURL), unwrapURLError(err))
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, fmt.Errorf("%s %s %s: reading reply: %w", c.Service, method, Redact(rawURL), err)
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
	d := c.BaseBackoff << (attempt - 1)
	if d <= 0 || d > c.MaxBackoff {
		d = c.MaxBackoff
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
	return &failure.HTTPStatusError{Service: c.Service, Method: method, URL: Redact(rawURL), Code: r.Code, Body: Snippet([]byte(c.redactSecrets(string(r.Body))))}
}

func (c *Client) redactSecrets(s string) string {
	for _, secret := range c.Secrets {
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

// BearerFromFile sets opts to send the token in path (trimmed, read once) as a bearer token,
// and registers it as a secret to redact.
func BearerFromFile(path string, opts *Options) error {
	tok, err := ReadSecret(path)
	if err != nil {
		return err
	}
	opts.Auth = func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tok) }
	opts.Secrets = append(opts.Secrets, tok)
	return nil
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
