package faults

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestInjector(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("real")) }))
	defer backend.Close()
	tests := []struct {
		name   string
		fault  Fault
		want   []string // per request: status code text or "error"
		inject int
	}{
		{name: "503 first 2", fault: Fault{Kind: Status, Code: 503, First: 2}, want: []string{"503", "503", "real"}, inject: 2},
		{name: "429 always", fault: Fault{Kind: Status, Code: 429, RetryAfter: "1"}, want: []string{"429", "429", "429"}, inject: 3},
		{name: "reset first 1", fault: Fault{Kind: Reset, First: 1}, want: []string{"error", "real", "real"}, inject: 1},
		{name: "hang first 1", fault: Fault{Kind: Hang, First: 1}, want: []string{"error", "real"}, inject: 1},
		{name: "only matching path", fault: Fault{Kind: Status, Code: 500, Match: MethodPath("GET", "/api/")}, want: []string{"real"}, inject: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inj := New(tt.fault)
			defer inj.Close()
			p, err := inj.NewProxy(backend.URL, nil)
			require.NoError(t, err)
			defer p.Server.Close()
			c := &http.Client{Timeout: 200 * time.Millisecond, Transport: &http.Transport{DisableKeepAlives: true}}
			for i, want := range tt.want {
				req, _ := http.NewRequestWithContext(context.Background(), "GET", p.URL+"/v2/x", nil)
				resp, err := c.Do(req)
				if want == "error" {
					require.Error(t, err, "request %d", i)
					continue
				}
				require.NoError(t, err, "request %d", i)
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if want == "real" {
					assert.Equal(t, "real", string(b))
				} else {
					assert.Equal(t, want, resp.Status[:3])
					if tt.fault.RetryAfter != "" {
						assert.Equal(t, tt.fault.RetryAfter, resp.Header.Get("Retry-After"))
					}
				}
			}
			assert.Equal(t, tt.inject, inj.Injected())
		})
	}
}
