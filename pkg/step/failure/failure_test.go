package failure

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// realError makes the error a real client would see, so that matching is tested on actual
// error chains rather than hand-built ones.
func realError(t *testing.T, kind string) error {
	t.Helper()
	c := &http.Client{Timeout: 2 * time.Second}
	switch kind {
	case "refused":
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		addr := l.Addr().String()
		require.NoError(t, l.Close())
		_, err = c.Get("http://" + addr + "/")
		return err
	case "dns":
		_, err := c.Get("http://no-such-host.invalid/")
		return err
	case "tls":
		srv := httptest.NewTLSServer(http.NotFoundHandler())
		defer srv.Close()
		_, err := c.Get(srv.URL)
		return err
	case "timeout":
		ctx, cancel := context.WithTimeout(context.Background(), time.Nanosecond)
		defer cancel()
		<-ctx.Done()
		return fmt.Errorf("waiting for release: %w", ctx.Err())
	}
	t.Fatalf("unknown kind %s", kind)
	return nil
}

// placeholder is a {fact} left unfilled (a fix may quote jsonpath such as {.status}).
var placeholder = regexp.MustCompile(`\{[a-z_]+\}`)

func TestExplain(t *testing.T) {
	tests := []struct {
		name   string
		err    func(t *testing.T) error
		want   ID
		causes []string
	}{
		{name: "typed image not found", want: ImageNotFound, causes: []string{"quay.io/x/y:abc", "build PipelineRun", "component c1"},
			err: func(*testing.T) error {
				return fmt.Errorf("checking image: %w", New(ImageNotFound, map[string]string{"image": "quay.io/x/y:abc", "component": "c1"}, "MANIFEST_UNKNOWN"))
			}},
		{name: "401 names the secret", want: Unauthorized, causes: []string{"registry-credentials", "Quay rejected"},
			err: func(*testing.T) error {
				return Wrap(Unauthorized, map[string]string{"secret": "registry-credentials", "service": "Quay"}, errors.New("401"))
			}},
		{name: "http 403", want: Unauthorized, causes: []string{"Alertmanager rejected"},
			err: func(*testing.T) error {
				return fmt.Errorf("query: %w", &HTTPStatusError{Service: "Alertmanager", Method: "GET", URL: "u", Code: 403})
			}},
		{name: "http 429", want: RateLimited, err: func(*testing.T) error { return &HTTPStatusError{Service: "Quay", Code: 429} }},
		{name: "http 503", want: ServerError, err: func(*testing.T) error { return &HTTPStatusError{Service: "Quay", Code: 503} }},
		{name: "connection refused", want: Network, causes: []string{"127.0.0.1:"}, err: func(t *testing.T) error { return realError(t, "refused") }},
		{name: "dns", want: Network, causes: []string{"no-such-host.invalid"}, err: func(t *testing.T) error { return realError(t, "dns") }},
		{name: "tls unknown authority", want: TLS, err: func(t *testing.T) error { return realError(t, "tls") }},
		{name: "x509 hostname", want: TLS, causes: []string{"quay.example"},
			err: func(*testing.T) error {
				return x509.HostnameError{Certificate: &x509.Certificate{}, Host: "quay.example"}
			}},
		{name: "deadline", want: Timeout, err: func(t *testing.T) error { return realError(t, "timeout") }},
		{name: "release exists", want: ReleaseExists, causes: []string{"kubectl get release r1 -n ns"},
			err: func(*testing.T) error {
				return New(ReleaseExists, map[string]string{"release": "r1", "namespace": "ns"}, "exists")
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, ok := Explain(tt.err(t))
			require.True(t, ok)
			assert.Equal(t, tt.want, a.ID)
			text := a.Cause + " " + a.Fix
			assert.NotRegexp(t, placeholder, text, "every placeholder filled")
			for _, c := range tt.causes {
				assert.Contains(t, text, c)
			}
		})
	}
}

func TestExplainUnknown(t *testing.T) {
	_, ok := Explain(errors.New("something else"))
	assert.False(t, ok)
	_, ok = Explain(nil)
	assert.False(t, ok)
	_, ok = Explain(&HTTPStatusError{Code: 404})
	assert.False(t, ok, "a bare 404 means different things per service; the package must say which")
}

func TestEveryEntryComplete(t *testing.T) {
	for _, e := range Entries() {
		assert.NotEmpty(t, e.Title, e.ID)
		assert.NotEmpty(t, e.Cause, e.ID)
		assert.NotEmpty(t, e.Fix, e.ID)
		a, ok := Explain(New(e.ID, nil, "x"))
		require.True(t, ok)
		assert.NotRegexp(t, placeholder, a.Cause+a.Fix, "defaults cover every placeholder of %s", e.ID)
	}
}

// TestReadmeTable keeps the README's table of known failures in step with the catalog.
func TestReadmeTable(t *testing.T) {
	b, err := os.ReadFile("../../../README.md")
	require.NoError(t, err)
	const heading = "## Known failures"
	i := strings.Index(string(b), heading)
	require.GreaterOrEqual(t, i, 0, "README.md has a section %q", heading)
	section := string(b)[i+len(heading):]
	if end := strings.Index(section, "\n## "); end >= 0 {
		section = section[:end]
	}
	rows := regexp.MustCompile("(?m)^\\| `([a-z0-9-]+)` \\|").FindAllStringSubmatch(section, -1)
	var inReadme []string
	for _, r := range rows {
		inReadme = append(inReadme, r[1])
	}
	var inCatalog []string
	for _, e := range Entries() {
		inCatalog = append(inCatalog, string(e.ID))
	}
	assert.Equal(t, inCatalog, inReadme, "README.md § Known failures lists exactly the catalog, in ID order")
	for _, e := range Entries() {
		assert.True(t, strings.Contains(section, e.Title), "README names %q", e.Title)
	}
}
