// Package faults injects failures between a step and a real component in tests: an HTTP handler
// wrapper (and a reverse proxy built on it) that answers 429 with Retry-After, 500, 503, hangs
// past the client's timeout, or resets the connection — for the first N matching requests or
// always — and passes everything else through untouched.
package faults

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
)

// Kind is what a fault does.
type Kind int

// The faults.
const (
	Status Kind = iota // answer Code (with RetryAfter when set)
	Hang               // hold the request until the client gives up or the injector closes
	Reset              // close the TCP connection abruptly (RST)
)

func (k Kind) String() string {
	switch k {
	case Status:
		return "status"
	case Hang:
		return "hang"
	case Reset:
		return "reset"
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// Fault is one rule.
type Fault struct {
	Kind       Kind
	Code       int    // for Status
	RetryAfter string // for Status: the Retry-After header, e.g. "1"
	// First limits the fault to the first N matching requests; 0 means always.
	First int
	// Match selects requests (nil: all). MethodPath is a ready-made matcher.
	Match func(*http.Request) bool
}

// String names the fault for test names.
func (f Fault) String() string {
	n := "always"
	if f.First > 0 {
		n = fmt.Sprintf("first %d", f.First)
	}
	if f.Kind == Status {
		return fmt.Sprintf("%d %s", f.Code, n)
	}
	return f.Kind.String() + " " + n
}

// MethodPath matches requests with method (empty: any) whose path contains part.
func MethodPath(method, part string) func(*http.Request) bool {
	return func(r *http.Request) bool {
		return (method == "" || r.Method == method) && strings.Contains(r.URL.Path, part)
	}
}

// Injector applies faults in front of a handler.
type Injector struct {
	mu       sync.Mutex
	faults   []Fault
	hits     []int
	injected int
	passed   int
	closed   chan struct{}
	once     sync.Once
}

// New returns an Injector with the faults, checked in order.
func New(faults ...Fault) *Injector {
	return &Injector{faults: faults, hits: make([]int, len(faults)), closed: make(chan struct{})}
}

// Injected is how many requests got a fault; Passed how many went through.
func (i *Injector) Injected() int { i.mu.Lock(); defer i.mu.Unlock(); return i.injected }

// Passed is how many requests were passed to the real component.
func (i *Injector) Passed() int { i.mu.Lock(); defer i.mu.Unlock(); return i.passed }

// Close releases every hanging request.
func (i *Injector) Close() { i.once.Do(func() { close(i.closed) }) }

func (i *Injector) pick(r *http.Request) (Fault, bool) {
	i.mu.Lock()
	defer i.mu.Unlock()
	for n, f := range i.faults {
		if f.Match != nil && !f.Match(r) {
			continue
		}
		if f.First > 0 && i.hits[n] >= f.First {
			continue
		}
		i.hits[n]++
		i.injected++
		return f, true
	}
	i.passed++
	return Fault{}, false
}

// Wrap returns next behind the faults.
func (i *Injector) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, ok := i.pick(r)
		if !ok {
			next.ServeHTTP(w, r)
			return
		}
		switch f.Kind {
		case Status:
			if f.RetryAfter != "" {
				w.Header().Set("Retry-After", f.RetryAfter)
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(f.Code)
			fmt.Fprintf(w, `{"message":"injected fault: %d"}`, f.Code)
		case Hang:
			// Read the body first: until it is read, the server does not notice the client
			// leave, and a hung POST would hold the server open past the client's timeout.
			_, _ = io.Copy(io.Discard, r.Body)
			select {
			case <-r.Context().Done():
			case <-i.closed:
			}
		case Reset:
			hj, ok := w.(http.Hijacker)
			if !ok {
				panic(http.ErrAbortHandler) // HTTP/2: abort the stream, the closest to a reset
			}
			conn, _, err := hj.Hijack()
			if err != nil {
				return
			}
			if tc, ok := conn.(*net.TCPConn); ok {
				_ = tc.SetLinger(0)
			}
			_ = conn.Close()
		}
	})
}

// Proxy serves, on loopback, a reverse proxy to target behind the injector. For an HTTPS target
// give its CA (PEM) so the proxy can verify it; the proxy then serves HTTPS too, and Proxy.CA
// is what clients must trust.
type Proxy struct {
	URL    string
	CA     []byte // PEM of the proxy's certificate when it serves HTTPS
	Server *httptest.Server
}

// NewProxy starts a proxy to target. Close it with p.Server.Close (and the injector).
func (i *Injector) NewProxy(target string, targetCA []byte) (*Proxy, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, fmt.Errorf("faults: target: %w", err)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if len(targetCA) > 0 {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(targetCA) {
			return nil, fmt.Errorf("faults: target CA holds no certificate")
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	rp.Transport = tr
	h := i.Wrap(rp)
	p := &Proxy{}
	if u.Scheme == "https" {
		p.Server = httptest.NewUnstartedServer(h)
		p.Server.EnableHTTP2 = false // Reset needs a hijackable HTTP/1.1 connection
		p.Server.StartTLS()
		p.CA = certPEM(p.Server.Certificate())
	} else {
		p.Server = httptest.NewServer(h)
	}
	p.URL = p.Server.URL
	return p, nil
}

// Transient are the faults a client must ride out, each for the first requests only: 429 with
// Retry-After, 500, 503, a reset connection and a hung request.
func Transient(match func(*http.Request) bool) []Fault {
	return []Fault{
		{Kind: Status, Code: http.StatusTooManyRequests, RetryAfter: "1", First: 2, Match: match},
		{Kind: Status, Code: http.StatusInternalServerError, First: 2, Match: match},
		{Kind: Status, Code: http.StatusServiceUnavailable, First: 2, Match: match},
		{Kind: Reset, First: 1, Match: match},
		{Kind: Hang, First: 1, Match: match},
	}
}

// Persistent are the faults that never clear: 503, reset and hang on every request.
func Persistent(match func(*http.Request) bool) []Fault {
	return []Fault{
		{Kind: Status, Code: http.StatusServiceUnavailable, Match: match},
		{Kind: Reset, Match: match},
		{Kind: Hang, Match: match},
	}
}
