package alerts

import (
	"context"
	"encoding/pem"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/release-to-prod/release-to-prod/pkg/clients/httpclient"
	"github.com/release-to-prod/release-to-prod/pkg/step/failure"
)

// amReply has the shape of a real Alertmanager v0.27 GET /api/v2/alerts reply.
const amReply = `[
 {"annotations":{"summary":"5% of requests fail","runbook_url":"https://runbooks/x"},"endsAt":"2024-05-01T10:05:00.000Z",
  "fingerprint":"3b8f1e2a9c4d5e6f","receivers":[{"name":"blackhole"}],"startsAt":"2024-05-01T10:00:00.123Z",
  "status":{"inhibitedBy":[],"silencedBy":[],"state":"active"},"updatedAt":"2024-05-01T10:00:00.123Z",
  "generatorURL":"http://prometheus:9090/graph?g0.expr=x","labels":{"alertname":"HighErrorRate","environment":"production","severity":"critical","namespace":"payments"}},
 {"annotations":{},"endsAt":"2024-05-01T10:05:00.000Z","fingerprint":"aa","receivers":[{"name":"blackhole"}],"startsAt":"2024-05-01T09:00:00Z",
  "status":{"inhibitedBy":[],"silencedBy":["0f6c8a5e-1c2b-4d3e-9f8a-7b6c5d4e3f2a"],"state":"suppressed"},"updatedAt":"2024-05-01T10:00:00Z",
  "labels":{"alertname":"Silenced","environment":"production"}},
 {"annotations":{},"endsAt":"2024-05-01T10:05:00.000Z","fingerprint":"bb","receivers":[],"startsAt":"not a time",
  "status":{"inhibitedBy":[],"silencedBy":[],"state":"unprocessed"},"updatedAt":"2024-05-01T10:00:00Z",
  "labels":{"alertname":"Fresh","environment":"production"}}
]`

// promReplyJSON has the shape of Prometheus' (and Thanos Querier's) GET /api/v1/alerts.
const promReplyJSON = `{"status":"success","data":{"alerts":[
 {"labels":{"alertname":"KubePodCrashLooping","environment":"production","namespace":"payments","pod":"api-7f9","severity":"warning"},
  "annotations":{"summary":"Pod payments/api-7f9 is crash looping"},"state":"firing","activeAt":"2024-05-01T09:58:12.345678901Z","value":"1e+00"},
 {"labels":{"alertname":"KubePodCrashLooping","environment":"staging","namespace":"payments","severity":"warning"},
  "annotations":{},"state":"firing","activeAt":"2024-05-01T09:58:12Z","value":"1e+00"},
 {"labels":{"alertname":"DiskFilling","environment":"production","severity":"critical"},
  "annotations":{},"state":"pending","activeAt":"2024-05-01T10:01:00Z","value":"9.1e+01"}
]}}`

func TestDecodeAlertmanager(t *testing.T) {
	tests := []struct {
		name       string
		in         string
		wantNames  []string
		wantFiring []bool
		wantErr    string
	}{
		{name: "recorded reply", in: amReply, wantNames: []string{"HighErrorRate", "Silenced", "Fresh"}, wantFiring: []bool{true, false, false}},
		{name: "empty", in: `[]`, wantNames: []string{}, wantFiring: []bool{}},
		{name: "null", in: `null`, wantErr: "expected an array"},
		{name: "object", in: `{"alerts":[]}`, wantErr: "decoding alerts JSON"},
		{name: "html", in: `<html><body>Log in</body></html>`, wantErr: "reply starts \"<html>"},
		{name: "no labels", in: `[{"status":{"state":"active"}}]`, wantErr: "alert 0 has no labels"},
		{name: "no status", in: `[{"labels":{"alertname":"A"}}]`, wantErr: "alert 0 (A) has no status"},
		{name: "unknown state", in: `[{"labels":{"alertname":"A"},"status":{"state":"firing"}}]`, wantErr: `unknown state "firing"`},
		{name: "label not a string", in: `[{"labels":{"a":1},"status":{"state":"active"}}]`, wantErr: "decoding alerts JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeAlertmanager([]byte(tt.in))
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			names, firing := []string{}, []bool{}
			for _, a := range got {
				names = append(names, a.Name)
				firing = append(firing, a.Firing)
			}
			assert.Equal(t, tt.wantNames, names)
			assert.Equal(t, tt.wantFiring, firing)
		})
	}
	got, err := DecodeAlertmanager([]byte(amReply))
	require.NoError(t, err)
	assert.Equal(t, time.Date(2024, 5, 1, 10, 0, 0, 123e6, time.UTC), got[0].Since)
	assert.Equal(t, "5% of requests fail", got[0].Annotations["summary"])
	assert.True(t, got[2].Since.IsZero(), "an unreadable time is left out, not fatal")
}

func TestDecodePrometheus(t *testing.T) {
	tests := []struct {
		name       string
		in         string
		wantStates []string
		wantErr    string
	}{
		{name: "recorded reply", in: promReplyJSON, wantStates: []string{"firing", "firing", "pending"}},
		{name: "empty", in: `{"status":"success","data":{"alerts":[]}}`, wantStates: []string{}},
		{name: "error reply", in: `{"status":"error","errorType":"bad_data","error":"x"}`, wantErr: "the server answered an error: bad_data: x"},
		{name: "no data", in: `{"status":"success"}`, wantErr: "no data.alerts"},
		{name: "alertmanager shape", in: amReply, wantErr: "decoding alerts JSON"},
		{name: "no status", in: `{"data":{"alerts":[]}}`, wantErr: `status is ""`},
		{name: "unknown state", in: `{"status":"success","data":{"alerts":[{"labels":{},"state":"active"}]}}`, wantErr: `unknown state "active"`},
		{name: "no labels", in: `{"status":"success","data":{"alerts":[{"state":"firing"}]}}`, wantErr: "has no labels"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodePrometheus([]byte(tt.in))
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			states := []string{}
			for _, a := range got {
				states = append(states, a.State)
				assert.Equal(t, a.State == "firing", a.Firing)
			}
			assert.Equal(t, tt.wantStates, states)
		})
	}
}

func FuzzDecodeAlertmanager(f *testing.F) {
	for _, s := range []string{amReply, `[]`, `null`, `{}`, `[{"labels":{},"status":{"state":"active"}}]`, `[{"labels":null}]`, `<html>`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		alerts, err := DecodeAlertmanager(b)
		if err != nil {
			return
		}
		for _, a := range alerts {
			require.NotNil(t, a.Labels)
			require.Contains(t, []string{"active", "suppressed", "unprocessed"}, a.State)
			require.Equal(t, a.State == "active", a.Firing)
		}
	})
}

func TestEndpoint(t *testing.T) {
	tests := []struct {
		base, want, wantErr string
	}{
		{base: "https://am.example.com", want: "https://am.example.com/api/v2/alerts"},
		{base: "https://am.example.com/", want: "https://am.example.com/api/v2/alerts"},
		{base: "https://example.com/alertmanager/", want: "https://example.com/alertmanager/api/v2/alerts"},
		{base: "https://am.example.com/api/v2/alerts", want: "https://am.example.com/api/v2/alerts"},
		{base: "http://127.0.0.1:9093", want: "http://127.0.0.1:9093/api/v2/alerts"},
		{base: "am.example.com", wantErr: "not an http(s) URL"},
		{base: "ftp://am.example.com", wantErr: "not an http(s) URL"},
		{base: "https://user:pw@am.example.com", wantErr: "must not carry credentials"},
		{base: "https://am.example.com/?token=x", wantErr: "must not carry credentials"},
	}
	for _, tt := range tests {
		t.Run(tt.base, func(t *testing.T) {
			got, err := Endpoint(tt.base, AlertmanagerPath)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				assert.NotContains(t, err.Error(), "pw")
				assert.NotContains(t, err.Error(), "token=x")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func testClient(t *testing.T, service string, opts ...httpclient.Option) *httpclient.Client {
	t.Helper()
	c, err := httpclient.New(service, append([]httpclient.Option{httpclient.WithTimeout(5 * time.Second), httpclient.WithAttempts(2),
		httpclient.WithBackoff(time.Millisecond, time.Millisecond)}, opts...)...)
	require.NoError(t, err)
	return c
}

// TestAlertmanagerRequest checks what is sent: the query that leaves silenced and inhibited
// alerts out, one filter per matcher, the token, and that the client-side checks still apply.
func TestAlertmanagerRequest(t *testing.T) {
	var got *http.Request
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r
		_, _ = w.Write([]byte(amReply))
	}))
	t.Cleanup(srv.Close)
	c := testClient(t, "Alertmanager", httpclient.WithBearerToken("tok"))
	ms, err := ParseMatchers(`environment="production",summary="a, b"`)
	require.NoError(t, err)
	alerts, err := (&Alertmanager{URL: srv.URL + "/", Client: c}).Firing(context.Background(), ms)
	require.NoError(t, err)
	require.NotNil(t, got)
	assert.Equal(t, "/api/v2/alerts", got.URL.Path)
	q := got.URL.Query()
	assert.Equal(t, "true", q.Get("active"))
	assert.Equal(t, "false", q.Get("silenced"))
	assert.Equal(t, "false", q.Get("inhibited"))
	assert.Equal(t, []string{`environment="production"`, `summary="a, b"`}, q["filter"])
	assert.Equal(t, "Bearer tok", got.Header.Get("Authorization"))
	// The server ignored the filter here: the summary matcher, applied again, drops everything.
	assert.Empty(t, alerts)

	ms, err = ParseMatchers(`environment="production"`)
	require.NoError(t, err)
	alerts, err = (&Alertmanager{URL: srv.URL, Client: c}).Firing(context.Background(), ms)
	require.NoError(t, err)
	require.Len(t, alerts, 1, "the suppressed and the unprocessed alert do not count")
	assert.Equal(t, "HighErrorRate", alerts[0].Name)
}

// TestStatusAdvice checks that each failing answer is explained by the catalog, and that the
// gate blocks on all of them.
func TestStatusAdvice(t *testing.T) {
	tests := []struct {
		name       string
		source     string
		code       int
		body       string
		wantID     failure.ID
		wantAdvice []string
	}{
		{name: "403", code: 403, body: "forbidden", wantID: failure.AlertsForbidden,
			wantAdvice: []string{"lacks the monitoring role", "cluster-monitoring-view", "whose token is Secret release-to-prod-monitoring-token (key token)"}},
		{name: "401", code: 401, wantID: failure.Unauthorized,
			wantAdvice: []string{"Alertmanager rejected the credentials", "refresh the secret Secret release-to-prod-monitoring-token (key token)"}},
		{name: "404", code: 404, wantID: failure.AlertsBadReply, wantAdvice: []string{"/api/v2/alerts", "source=alertmanager"}},
		{name: "500", code: 500, wantID: failure.ServerError, wantAdvice: []string{"Alertmanager kept answering with server errors"}},
		{name: "400", code: 400, body: "bad matcher format", wantID: failure.InvalidInput},
		{name: "html 200", code: 200, body: "<html>login</html>", wantID: failure.AlertsBadReply, wantAdvice: []string{"did not answer like the Alertmanager API v2"}},
		{name: "prometheus 403", source: "prometheus", code: 403, wantID: failure.AlertsForbidden, wantAdvice: []string{"Prometheus answered 403"}},
		{name: "prometheus 422", source: "prometheus", code: 422, body: `{"status":"error","errorType":"execution","error":"x"}`},
		{name: "prometheus given alertmanager reply", source: "prometheus", code: 200, body: amReply, wantID: failure.AlertsBadReply,
			wantAdvice: []string{"source=prometheus", "/api/v1/alerts"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tt.code)
				_, _ = w.Write([]byte(tt.body))
			}))
			t.Cleanup(srv.Close)
			secret := "Secret release-to-prod-monitoring-token (key token)"
			var src Source = &Alertmanager{URL: srv.URL, Client: testClient(t, "Alertmanager"), Secret: secret}
			if tt.source == "prometheus" {
				src = &Prometheus{URL: srv.URL, Client: testClient(t, "Prometheus"), Secret: secret}
			}
			_, err := src.Firing(context.Background(), Matchers{})
			require.Error(t, err)
			a, ok := failure.Explain(err)
			if tt.wantID == "" {
				assert.False(t, ok, "an unexpected status is reported as is: %v", err)
				assert.Contains(t, err.Error(), "422")
				return
			}
			require.True(t, ok, err.Error())
			assert.Equal(t, tt.wantID, a.ID, err.Error())
			for _, s := range tt.wantAdvice {
				assert.Contains(t, a.Cause+" "+a.Fix, s)
			}
			assert.NotContains(t, a.Cause+a.Fix, "{")
		})
	}
}

// TestPrometheusSource reads a recorded-shape reply over TLS with the CA from a file: only
// "firing" alerts that match count, matching is client side.
func TestPrometheusSource(t *testing.T) {
	var path string
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path = r.URL.Path
		assert.Empty(t, r.URL.RawQuery, "the Prometheus API takes no filter")
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(promReplyJSON))
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the handshake the test makes fail
	srv.StartTLS()
	t.Cleanup(srv.Close)
	ca := filepath.Join(t.TempDir(), "ca.crt")
	require.NoError(t, os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600))

	cfg := &Config{URL: srv.URL, Source: "prometheus", Matchers: `environment="production"`, CABundle: httpclient.CABundle{CAFile: ca}, Timeout: 2 * time.Second}
	g, err := cfg.Gate()
	require.NoError(t, err)
	alerts, err := g.Source.Firing(context.Background(), g.Matchers)
	require.NoError(t, err)
	assert.Equal(t, PrometheusPath, path)
	require.Len(t, alerts, 1, "staging and pending alerts do not count")
	assert.Equal(t, "KubePodCrashLooping", alerts[0].Name)
	assert.Equal(t, "payments", alerts[0].Labels["namespace"])

	// Verification is always on: without the CA the server is not trusted.
	cfg.CAFile = ""
	g, err = cfg.Gate()
	require.NoError(t, err)
	_, err = g.Source.Firing(context.Background(), g.Matchers)
	require.Error(t, err)
	a, ok := failure.Explain(err)
	require.True(t, ok, err.Error())
	assert.Equal(t, failure.TLS, a.ID)
}
