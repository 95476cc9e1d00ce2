// Package failure is the catalog of known failures: for an error, the likely cause and the fix.
//
// Steps return errors; the step runtime asks Explain what they mean. A package that knows what
// went wrong says so with a typed error (New / Wrap with an ID and facts such as the secret or
// the image); errors nobody classified are still matched on their type: network, DNS, TLS,
// timeouts and HTTP status codes. Matching is never done on log text.
package failure

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sort"
	"strings"
	"syscall"
)

// Entry is one row of the catalog. Cause and Fix may name facts as {key}; facts the error does
// not carry fall back to the Defaults.
type Entry struct {
	ID       ID
	Title    string
	Cause    string
	Fix      string
	Defaults map[string]string
}

var catalog = map[ID]Entry{}

// sharedDefaults are the defaults of facts that mean the same in every entry that names them.
var sharedDefaults = map[string]string{"namespace": "<namespace>"}

// The catalog is one table (catalog.go), so that the catalog, the README table and its test
// see one list.
func init() {
	for _, e := range entries {
		register(e)
	}
}

// register adds an entry, with the shared defaults of the facts its text names. An ID
// registered twice is a programming error caught by every test run.
func register(e Entry) {
	if _, dup := catalog[e.ID]; dup {
		panic("failure: duplicate catalog entry " + string(e.ID))
	}
	for key, v := range sharedDefaults {
		if _, set := e.Defaults[key]; set || !strings.Contains(e.Cause+e.Fix, "{"+key+"}") {
			continue
		}
		if e.Defaults == nil {
			e.Defaults = map[string]string{}
		}
		e.Defaults[key] = v
	}
	catalog[e.ID] = e
}

// Error is an error whose meaning is known.
type Error struct {
	ID    ID
	Facts map[string]string
	Err   error
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// New returns a known failure with a message.
func New(id ID, facts map[string]string, format string, args ...any) error {
	return &Error{ID: id, Facts: facts, Err: fmt.Errorf(format, args...)}
}

// Wrap marks err as a known failure; a nil err stays nil.
func Wrap(id ID, facts map[string]string, err error) error {
	if err == nil {
		return nil
	}
	return &Error{ID: id, Facts: facts, Err: err}
}

// AsInvalid marks err as invalid input unless it is a known failure already.
func AsInvalid(err error) error {
	var fe *Error
	if err == nil || errors.As(err, &fe) {
		return err
	}
	return Wrap(InvalidInput, nil, err)
}

// HTTPStatusError is what clients of this project return for an unexpected HTTP status; the
// catalog classifies it by code.
type HTTPStatusError struct {
	Service string // e.g. "Quay", "Alertmanager"
	Method  string
	URL     string // without credentials or query secrets
	Code    int
	Body    string // first bytes of the body, already redacted by the caller
}

func (e *HTTPStatusError) Error() string {
	msg := fmt.Sprintf("%s: %s %s: %d %s", e.Service, e.Method, e.URL, e.Code, http.StatusText(e.Code))
	if e.Body != "" {
		msg += ": " + e.Body
	}
	return msg
}

// Advice is what the catalog says of an error.
type Advice struct {
	ID    ID     `json:"id"`
	Title string `json:"title"`
	Cause string `json:"cause"`
	Fix   string `json:"fix"`
}

// Explain classifies err. ok is false when nothing in the catalog matches.
func Explain(err error) (Advice, bool) {
	if err == nil {
		return Advice{}, false
	}
	id, facts := classify(err)
	if id == "" {
		return Advice{}, false
	}
	e, ok := catalog[id]
	if !ok {
		return Advice{}, false
	}
	return Advice{ID: id, Title: e.Title, Cause: fill(e.Cause, facts, e.Defaults), Fix: fill(e.Fix, facts, e.Defaults)}, true
}

// Entries lists the catalog, sorted by ID.
func Entries() []Entry {
	out := make([]Entry, 0, len(catalog))
	for _, e := range catalog {
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

func classify(err error) (ID, map[string]string) {
	var known *Error
	if errors.As(err, &known) {
		return known.ID, known.Facts
	}
	var hs *HTTPStatusError
	if errors.As(err, &hs) {
		facts := map[string]string{"service": hs.Service}
		switch {
		case hs.Code == http.StatusUnauthorized || hs.Code == http.StatusForbidden:
			return Unauthorized, facts
		case hs.Code == http.StatusTooManyRequests:
			return RateLimited, facts
		case hs.Code >= 500:
			return ServerError, facts
		}
		return "", nil
	}
	if host, ok := tlsFailure(err); ok {
		return TLS, map[string]string{"host": host}
	}
	if host, ok := networkFailure(err); ok {
		return Network, map[string]string{"host": host}
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return Timeout, nil
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return Timeout, nil
	}
	return "", nil
}

func tlsFailure(err error) (string, bool) {
	var (
		unknown  x509.UnknownAuthorityError
		hostname x509.HostnameError
		invalid  x509.CertificateInvalidError
		verify   *tls.CertificateVerificationError
	)
	switch {
	case errors.As(err, &hostname):
		return hostname.Host, true
	case errors.As(err, &unknown), errors.As(err, &invalid), errors.As(err, &verify):
		return hostOf(err), true
	}
	return "", false
}

func networkFailure(err error) (string, bool) {
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return dns.Name, true
	}
	for _, errno := range []syscall.Errno{syscall.ECONNREFUSED, syscall.EHOSTUNREACH, syscall.ENETUNREACH, syscall.ECONNRESET} {
		if errors.Is(err, errno) {
			return hostOf(err), true
		}
	}
	return "", false
}

// hostOf finds the remote address in a wrapped *net.OpError, if there is one.
func hostOf(err error) string {
	var op *net.OpError
	if errors.As(err, &op) && op.Addr != nil {
		return op.Addr.String()
	}
	return "the server"
}

func fill(s string, facts, defaults map[string]string) string {
	var b strings.Builder
	for {
		i := strings.IndexByte(s, '{')
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			b.WriteString(s)
			return b.String()
		}
		key := s[i+1 : i+j]
		b.WriteString(s[:i])
		if v, ok := facts[key]; ok && v != "" {
			b.WriteString(v)
		} else if v, ok := defaults[key]; ok {
			b.WriteString(v)
		} else {
			b.WriteString("{" + key + "}")
		}
		s = s[i+j+1:]
	}
}
