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

// ID names one known failure.
type ID string

// The known failures. Keep README.md's table in step with this list (a test checks it).
const (
	ImageNotFound    ID = "image-not-found"
	Unauthorized     ID = "unauthorized"
	Network          ID = "network"
	ReleaseExists    ID = "release-exists"
	TLS              ID = "tls"
	Timeout          ID = "timeout"
	RateLimited      ID = "rate-limited"
	ServerError      ID = "server-error"
	InvalidInput     ID = "invalid-input"
	DigestMismatch   ID = "digest-mismatch"
	ResultsTooLarge  ID = "results-too-large"
	ResourceNotFound ID = "resource-not-found"
	// NotPermitted is the Kubernetes API server refusing the run's ServiceAccount a verb on a
	// resource (403 Forbidden): a missing RoleBinding, not a wrong secret. Steps exit with
	// step.ExitNotPermitted for it, so that the report tells it apart from a gate that blocked.
	NotPermitted ID = "not-permitted"
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

// register adds an entry. Entries live in this package only (one file per area, each with an
// init), so that the catalog, the README table and its test see one list. An ID registered twice
// is a programming error caught by every test run.
func register(e Entry) {
	if _, dup := catalog[e.ID]; dup {
		panic("failure: duplicate catalog entry " + string(e.ID))
	}
	catalog[e.ID] = e
}

func init() {
	for _, e := range []Entry{
		{ID: ImageNotFound, Title: "image not found",
			Cause:    "the image {image} does not exist: the build for this commit has not run, has not finished, or failed",
			Fix:      "check the build PipelineRun for this commit (Konflux UI, application {application}, component {component}, on-push pipeline); re-run once it has pushed the image",
			Defaults: map[string]string{"image": "for this commit", "application": "?", "component": "?"}},
		{ID: Unauthorized, Title: "credentials rejected (401/403)",
			Cause:    "{service} rejected the credentials: they are expired, wrong, or lack the permission",
			Fix:      "refresh the secret {secret} (and check it grants {permission}), then re-run",
			Defaults: map[string]string{"service": "the server", "secret": "bound to this Task's credentials workspace", "permission": "read access"}},
		{ID: Network, Title: "no network route",
			Cause:    "cannot reach {host}: DNS lookup failed, no route to host, or connection refused",
			Fix:      "check the host name, the cluster's egress (NetworkPolicy, proxy, firewall) and that {host} is up; the gate fails closed until it is reachable",
			Defaults: map[string]string{"host": "the server"}},
		{ID: ReleaseExists, Title: "release already exists",
			Cause:    "this commit was already released: Release {release}",
			Fix:      "nothing to release; inspect it with: kubectl get release {release} -n {namespace} -o yaml",
			Defaults: map[string]string{"release": "?", "namespace": "<namespace>"}},
		{ID: TLS, Title: "TLS verification failed",
			Cause:    "the certificate of {host} is not trusted (unknown CA, expired, or wrong host name)",
			Fix:      "name the ConfigMap holding the right CA bundle in ca_bundle_configmap (default trusted-ca); do not turn verification off",
			Defaults: map[string]string{"host": "the server"}},
		{ID: Timeout, Title: "timed out",
			Cause:    "{what} did not answer or finish in time",
			Fix:      "check that {what} is healthy; raise the timeout param if it is just slow",
			Defaults: map[string]string{"what": "the server"}},
		{ID: RateLimited, Title: "rate limited (429)",
			Cause:    "{service} kept answering 429 Too Many Requests after the retries",
			Fix:      "wait a few minutes and re-run; use a dedicated robot account if it keeps happening",
			Defaults: map[string]string{"service": "the server"}},
		{ID: ServerError, Title: "server error (5xx)",
			Cause:    "{service} kept answering with server errors after the retries",
			Fix:      "check the service's status page or on-call; re-run when it is healthy",
			Defaults: map[string]string{"service": "the server"}},
		{ID: InvalidInput, Title: "invalid input",
			Cause: "a parameter is not valid",
			Fix:   "correct the parameter named above and re-run"},
		{ID: DigestMismatch, Title: "image tag moved",
			Cause:    "the tag {image} now points at {registry_digest}, but the Snapshot was made from {snapshot_digest}: the tag was re-pushed after the Snapshot was made",
			Fix:      "release the Snapshot's digest only: find out who re-pushed the tag, then re-run the build for this commit so that a new Snapshot is made",
			Defaults: map[string]string{"image": "?", "registry_digest": "?", "snapshot_digest": "?"}},
		{ID: ResultsTooLarge, Title: "results over Tekton's budget",
			Cause: "the step's results exceed the 4096-byte termination message of a TaskRun",
			Fix:   "this is a bug in the step: report it; results must stay small and bigger data go to a workspace"},
		{ID: NotPermitted, Title: "ServiceAccount not permitted (403)",
			Cause:    "the ServiceAccount may not {verb} {resource} in namespace {namespace}: the API server answered Forbidden",
			Fix:      "{fix}",
			Defaults: map[string]string{"verb": "read", "resource": "the resource", "namespace": "<namespace>", "fix": "apply the project's RBAC to the namespace (config/tenant-setup.sh <namespace>, as a tenant admin) and bind the ServiceAccounts per task through the PipelineRun's taskRunSpecs; see config/rbac/README.md"}},
		{ID: ResourceNotFound, Title: "Konflux object not found",
			Cause:    "{kind} {name} does not exist in namespace {namespace}",
			Fix:      "check the spelling of the param and that you are in the right tenant namespace (kubectl get {resource} -n {namespace})",
			Defaults: map[string]string{"kind": "object", "name": "?", "namespace": "?", "resource": "<kind>"}},
	} {
		register(e)
	}
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
