package alerts

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/release-to-prod/release-to-prod/pkg/clients/httpclient"
	"github.com/release-to-prod/release-to-prod/pkg/step/failure"
)

// Alert is one alert as a source reports it.
type Alert struct {
	Name        string // the alertname label
	Labels      map[string]string
	Annotations map[string]string
	State       string    // the source's own word: active/suppressed/unprocessed, or firing/pending/inactive
	Firing      bool      // the state that blocks a release: Alertmanager "active", Prometheus "firing"
	Since       time.Time // startsAt / activeAt; zero when the source gave none
}

// Source lists the firing alerts that match.
type Source interface {
	// Name is the service's name for messages: "Alertmanager", "Prometheus".
	Name() string
	Firing(ctx context.Context, ms Matchers) ([]Alert, error)
}

// The API paths each source is read from.
const (
	AlertmanagerPath = "/api/v2/alerts"
	PrometheusPath   = "/api/v1/alerts"
)

// Alertmanager reads Alertmanager's API v2, which filters server side: only alerts that are
// active, not silenced and not inhibited, matching the matchers, come back. The state is checked
// again here so that a proxy or an older server that ignores a query parameter cannot let a
// silenced alert block, or a firing one through.
type Alertmanager struct {
	URL    string // base URL, e.g. https://alertmanager-main-openshift-monitoring.apps.example.com
	Client *httpclient.Client
	Secret string // where the token came from, for advice on 401/403
}

// Name implements Source.
func (a *Alertmanager) Name() string { return "Alertmanager" }

// Firing implements Source with one GET.
func (a *Alertmanager) Firing(ctx context.Context, ms Matchers) ([]Alert, error) {
	t := target{path: AlertmanagerPath, api: "Alertmanager API v2", source: "alertmanager", secret: a.Secret}
	q := url.Values{"active": {"true"}, "silenced": {"false"}, "inhibited": {"false"}, "filter": ms.Filters()}
	return t.firing(ctx, a.Client, a.URL, q, DecodeAlertmanager, ms)
}

// Prometheus reads the alerts of a Prometheus or Thanos Querier: GET /api/v1/alerts takes no
// filter, so matching is done here, and only "firing" counts ("pending" has not yet lasted its
// `for:`). Prometheus does not know Alertmanager's silences: a silenced alert still blocks.
type Prometheus struct {
	URL    string
	Client *httpclient.Client
	Secret string
}

// Name implements Source.
func (p *Prometheus) Name() string { return "Prometheus" }

// Firing implements Source with one GET.
func (p *Prometheus) Firing(ctx context.Context, ms Matchers) ([]Alert, error) {
	t := target{path: PrometheusPath, api: "Prometheus alerts API", source: "prometheus", secret: p.Secret}
	return t.firing(ctx, p.Client, p.URL, nil, DecodePrometheus, ms)
}

func firingMatching(all []Alert, ms Matchers) []Alert {
	var out []Alert
	for _, a := range all {
		if a.Firing && ms.Matches(a.Labels) {
			out = append(out, a)
		}
	}
	return out
}

// target is one API endpoint and what messages say about it.
type target struct {
	url, path, api, source string
	secret                 string // where the token came from
}

// firing does the one read of the alerts API at base (t's path joined to it) with the query q,
// decodes the reply with decode and keeps the firing alerts ms matches.
func (t target) firing(ctx context.Context, c *httpclient.Client, base string, q url.Values, decode func([]byte) ([]Alert, error), ms Matchers) ([]Alert, error) {
	u, err := Endpoint(base, t.path)
	if err != nil {
		return nil, err
	}
	t.url = u
	body, err := t.get(ctx, c, q)
	if err != nil {
		return nil, err
	}
	all, err := decode(body)
	if err != nil {
		return nil, t.badReply(err)
	}
	return firingMatching(all, ms), nil
}

// get does the one read and turns every status but 200 into an error the catalog explains.
func (t target) get(ctx context.Context, c *httpclient.Client, q url.Values) ([]byte, error) {
	full := t.url
	if len(q) > 0 {
		full += "?" + q.Encode()
	}
	resp, err := c.Do(ctx, http.MethodGet, full, http.Header{"Accept": {"application/json"}}, nil)
	if err != nil {
		return nil, err
	}
	facts := map[string]string{"service": c.Service(), "secret": t.secret}
	switch code := resp.Code; {
	case code == http.StatusOK:
		return resp.Body, nil
	case code == http.StatusUnauthorized:
		facts["permission"] = "the cluster-monitoring-view role"
		return nil, failure.Wrap(failure.Unauthorized, facts, c.StatusError(http.MethodGet, t.url, resp))
	case code == http.StatusForbidden:
		return nil, failure.Wrap(failure.AlertsForbidden, facts, c.StatusError(http.MethodGet, t.url, resp))
	case code == http.StatusNotFound:
		return nil, t.badReply(c.StatusError(http.MethodGet, t.url, resp))
	case code == http.StatusBadRequest && t.source == "alertmanager":
		// Alertmanager answers 400 to a filter it cannot parse.
		return nil, failure.Wrap(failure.InvalidInput, nil, fmt.Errorf("%s rejected the matchers: %w", c.Service(), c.StatusError(http.MethodGet, t.url, resp)))
	default:
		return nil, c.StatusError(http.MethodGet, t.url, resp)
	}
}

func (t target) badReply(err error) error {
	u := httpclient.Redact(t.url)
	return failure.Wrap(failure.AlertsBadReply, map[string]string{"url": u, "api": t.api, "source": t.source, "path": t.path},
		fmt.Errorf("%s: not a reply of the %s: %w", u, t.api, err))
}

// Endpoint joins the API path to a base URL, which must be http(s) with a host and carry no
// credentials or query. A URL that already ends in the path is kept.
func Endpoint(base, path string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(base))
	if err != nil || u.Host == "" || u.Scheme != "https" && u.Scheme != "http" {
		return "", failure.New(failure.InvalidInput, nil, "url %q is not an http(s) URL with a host", httpclient.Redact(base))
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", failure.New(failure.InvalidInput, nil, "url %s must not carry credentials, a query or a fragment (the token comes from token_file)", httpclient.Redact(base))
	}
	p := strings.TrimRight(u.Path, "/")
	if !strings.HasSuffix(p, path) {
		p += path
	}
	u.Path, u.RawPath = p, ""
	return u.String(), nil
}

// amAlert is the part of Alertmanager's gettableAlert the gate reads.
type amAlert struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	StartsAt    string            `json:"startsAt"`
	Status      *struct {
		State string `json:"state"`
	} `json:"status"`
}

// DecodeAlertmanager decodes the reply of GET /api/v2/alerts (a JSON array of gettableAlert).
// Strict where the gate's decision depends on it: an alert without labels or with an unknown
// state makes the whole reply unreadable, so that the gate fails closed.
func DecodeAlertmanager(b []byte) ([]Alert, error) {
	var raw []amAlert
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("decoding alerts JSON: %w (reply starts %q)", err, httpclient.Snippet(b))
	}
	if raw == nil {
		return nil, fmt.Errorf("decoding alerts JSON: expected an array, got %q", httpclient.Snippet(b))
	}
	out := make([]Alert, 0, len(raw))
	for i, r := range raw {
		if r.Labels == nil {
			return nil, fmt.Errorf("alert %d has no labels", i)
		}
		if r.Status == nil {
			return nil, fmt.Errorf("alert %d (%s) has no status", i, r.Labels["alertname"])
		}
		switch r.Status.State {
		case "active", "suppressed", "unprocessed":
		default:
			return nil, fmt.Errorf("alert %d (%s) has unknown state %q", i, r.Labels["alertname"], r.Status.State)
		}
		out = append(out, Alert{Name: r.Labels["alertname"], Labels: r.Labels, Annotations: r.Annotations,
			State: r.Status.State, Firing: r.Status.State == "active", Since: parseTime(r.StartsAt)})
	}
	return out, nil
}

type promReply struct {
	Status    string `json:"status"`
	ErrorType string `json:"errorType"`
	Error     string `json:"error"`
	Data      *struct {
		Alerts []struct {
			Labels      map[string]string `json:"labels"`
			Annotations map[string]string `json:"annotations"`
			State       string            `json:"state"`
			ActiveAt    string            `json:"activeAt"`
		} `json:"alerts"`
	} `json:"data"`
}

// DecodePrometheus decodes the reply of Prometheus' (or Thanos') GET /api/v1/alerts.
func DecodePrometheus(b []byte) ([]Alert, error) {
	var r promReply
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("decoding alerts JSON: %w (reply starts %q)", err, httpclient.Snippet(b))
	}
	if r.Status != "success" {
		if r.Status == "error" {
			return nil, fmt.Errorf("the server answered an error: %s: %s", r.ErrorType, r.Error)
		}
		return nil, fmt.Errorf("decoding alerts JSON: status is %q, not \"success\"", r.Status)
	}
	if r.Data == nil || r.Data.Alerts == nil {
		return nil, fmt.Errorf("decoding alerts JSON: no data.alerts array")
	}
	out := make([]Alert, 0, len(r.Data.Alerts))
	for i, a := range r.Data.Alerts {
		if a.Labels == nil {
			return nil, fmt.Errorf("alert %d has no labels", i)
		}
		switch a.State {
		case "firing", "pending", "inactive":
		default:
			return nil, fmt.Errorf("alert %d (%s) has unknown state %q", i, a.Labels["alertname"], a.State)
		}
		out = append(out, Alert{Name: a.Labels["alertname"], Labels: a.Labels, Annotations: a.Annotations,
			State: a.State, Firing: a.State == "firing", Since: parseTime(a.ActiveAt)})
	}
	return out, nil
}

func parseTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}
	}
	return t
}
