// Package alerts is the alerts gate: it blocks a production release while production alerts
// are firing. It reads Alertmanager's API v2 (silenced and inhibited alerts do not block) or,
// as the alternative, a Prometheus/Thanos /api/v1/alerts, selects alerts with Alertmanager-style
// label matchers, and fails closed: a source it cannot reach or read blocks the release unless
// the gate is skipped explicitly.
package alerts

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/release-to-prod/release-to-prod/pkg/clients/httpclient"
	"github.com/release-to-prod/release-to-prod/pkg/step"
	"github.com/release-to-prod/release-to-prod/pkg/step/failure"
)

// Config is the step's configuration (environment, or the same names as flags).
type Config struct {
	step.Common
	URL      string `check:"url" env:"ALERTMANAGER_URL, required" desc:"base URL of Alertmanager (of Prometheus/Thanos with SOURCE=prometheus); the step appends the API path"`
	Source   string `param:"alerts_source" env:"SOURCE, default=alertmanager" desc:"alertmanager (API v2, silences honoured) or prometheus (GET /api/v1/alerts)"`
	Matchers string `param:"alert_matchers" env:"MATCHERS, default=environment=\"production\"" desc:"comma-separated label matchers selecting production alerts, e.g. environment=\"production\",team=~\"a|b\""`
	Severity string `param:"alert_severity" env:"SEVERITY" desc:"only alerts of this severity block (critical, or a list critical,warning); empty for every severity"`
	httpclient.CABundle
	TokenFile   string        `env:"TOKEN_FILE" desc:"file holding a bearer token (a Task sets it to the monitoring_token_key of the mounted monitoring_token_secret); empty for none"`
	TokenSecret string        `param:"monitoring_token_secret" env:"TOKEN_SECRET, default=release-to-prod-monitoring-token" desc:"Opaque Secret with the Alertmanager/Prometheus bearer token under monitoring_token_key; absent under this default name: no token"`
	Timeout     time.Duration `param:"-" env:"TIMEOUT, default=30s" desc:"how long the check may take, retries included (Go duration)"`
	Skip        string        `param:"skip_alerts" check:"bool" env:"SKIP, default=false" desc:"true to skip the alerts gate explicitly (it passes and says so)"`
}

// Result names.
const (
	ResultFiring step.ResultName = "FIRING_ALERTS"
	ResultNames  step.ResultName = "ALERT_NAMES"
)

// Limits of what the gate prints and writes.
const (
	MaxNamesBytes = 512 // ALERT_NAMES
	MaxLines      = 20  // alert lines printed: a screenful
)

// Run is the step: check-alerts.
func Run(ctx context.Context, s *step.Step, cfg *Config) error {
	skip, err := step.ParseBool("skip", cfg.Skip, false)
	if err != nil {
		return err
	}
	if skip {
		s.Skip("alerts gate skipped (skip=true)")
		if err := s.Result(ResultFiring, "0"); err != nil {
			return err
		}
		return s.Result(ResultNames, "skipped")
	}
	g, err := cfg.Gate()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	return g.Check(ctx, s)
}

// Gate builds the gate cfg describes, checking every setting before anything is sent.
func (cfg *Config) Gate() (*Gate, error) {
	ms, err := cfg.matchers()
	if err != nil {
		return nil, err
	}
	// Four attempts of a quarter of the timeout each, and backoffs of at most an eighth: a refused
	// connection fails all attempts well within the timeout and is reported as such, not as a
	// timeout; a server that hangs runs into the overall deadline.
	opts := []httpclient.Option{httpclient.WithTimeout(max(cfg.Timeout/4, time.Second)), httpclient.WithAttempts(4),
		httpclient.WithBackoff(0, max(cfg.Timeout/8, 500*time.Millisecond))}
	ca, caNote, err := cfg.CAOption(cfg)
	if err != nil {
		return nil, err
	}
	if ca != nil {
		opts = append(opts, ca)
	}
	service, path, err := sourceOf(cfg.Source)
	if err != nil {
		return nil, err
	}
	// The URL is checked now, so that a typo exits 2 before the first request.
	if _, err := Endpoint(cfg.URL, path); err != nil {
		return nil, err
	}
	auth, err := cfg.tokenAuth()
	if err != nil {
		return nil, err
	}
	var notes []string
	if caNote != "" {
		notes = append(notes, caNote)
	}
	notes = append(notes, auth.notes...)
	if auth.bearer != nil {
		opts = append(opts, auth.bearer)
	}
	c, err := httpclient.New(service, opts...)
	if err != nil {
		return nil, failure.AsInvalid(fmt.Errorf("ca_file: %w", err))
	}
	if path == PrometheusPath {
		return &Gate{Source: &Prometheus{URL: cfg.URL, Client: c, Secret: auth.secret}, Matchers: ms, Notes: notes}, nil
	}
	return &Gate{Source: &Alertmanager{URL: cfg.URL, Client: c, Secret: auth.secret}, Matchers: ms, Notes: notes}, nil
}

// matchers checks the settings read before any file and returns the alerts' matchers, the
// severity's included.
func (cfg *Config) matchers() (Matchers, error) {
	if strings.TrimSpace(cfg.URL) == "" {
		return nil, failure.New(failure.InvalidInput, nil, "url (ALERTMANAGER_URL) is empty")
	}
	if cfg.Timeout <= 0 {
		return nil, failure.New(failure.InvalidInput, nil, "timeout %s must be positive", cfg.Timeout)
	}
	ms, err := ParseMatchers(cfg.Matchers)
	if err != nil {
		return nil, err
	}
	if sm, ok, err := SeverityMatcher(cfg.Severity); err != nil {
		return nil, err
	} else if ok {
		ms = append(ms, sm)
	}
	return ms, nil
}

// sourceOf is the service and API path of the source setting.
func sourceOf(source string) (service, path string, err error) {
	switch source {
	case "alertmanager", "":
		return "Alertmanager", AlertmanagerPath, nil
	case "prometheus":
		return "Prometheus", PrometheusPath, nil
	}
	return "", "", failure.New(failure.InvalidInput, nil, "source %q is not alertmanager or prometheus", source)
}

// tokenAuth is how the gate authenticates: the bearer option (nil: no token), where the
// token comes from for the advice, and a note when one was expected but is not there.
type tokenAuth struct {
	bearer httpclient.Option
	secret string
	notes  []string
}

func (cfg *Config) tokenAuth() (tokenAuth, error) {
	token := step.MountOf(cfg, "Secret", "TOKEN_SECRET", cfg.TokenSecret, cfg.TokenFile).WithKeyParam("monitoring_token_key")
	tokenFile, err := token.Resolve()
	if err != nil {
		return tokenAuth{}, err
	}
	auth := tokenAuth{secret: "(none was given: create the Secret " + token.Name + " with the token under monitoring_token_key, or name yours in monitoring_token_secret)"}
	if tokenFile == "" && cfg.TokenFile != "" {
		auth.notes = append(auth.notes, "monitoring token "+token.NotConfigured()+": no token")
	}
	if tokenFile != "" {
		if u, _ := url.Parse(strings.TrimSpace(cfg.URL)); u.Scheme != "https" && !httpclient.IsLoopback(u.Host) {
			return tokenAuth{}, failure.New(failure.InvalidInput, nil, "url %s is plain http: refusing to send the token in clear text; use https", httpclient.Redact(cfg.URL))
		}
		bearer, err := httpclient.BearerFromFile(tokenFile)
		if err != nil {
			return tokenAuth{}, failure.AsInvalid(fmt.Errorf("token_file: %w", err))
		}
		auth.bearer = bearer
		auth.secret = token.Where()
	}
	return auth, nil
}

// Gate decides from a source's firing alerts.
type Gate struct {
	Source   Source
	Matchers Matchers
	Now      func() time.Time // for "for 12m"; time.Now when nil
	Notes    []string         // what is not configured (a token, a CA bundle), printed first
}

// Check lists the firing alerts, prints one line per alert, writes the results and returns
// failure.AlertsFiring when any fires.
func (g *Gate) Check(ctx context.Context, s *step.Step) error {
	for _, n := range g.Notes {
		s.Skip("%s", n)
	}
	alerts, err := g.Source.Firing(ctx, g.Matchers)
	if err != nil {
		err = fmt.Errorf("listing firing alerts from %s: %w", g.Source.Name(), err)
		if errors.Is(err, context.DeadlineExceeded) {
			var fe *failure.Error
			if !errors.As(err, &fe) {
				err = failure.Wrap(failure.Timeout, map[string]string{"what": g.Source.Name()}, err)
			}
		}
		return err
	}
	SortAlerts(alerts)
	names := DistinctNames(alerts)
	if err := s.Result(ResultFiring, strconv.Itoa(len(alerts))); err != nil {
		return err
	}
	if err := s.Result(ResultNames, JoinNames(names, MaxNamesBytes)); err != nil {
		return err
	}
	if len(alerts) == 0 {
		s.OK("no firing production alerts (matchers %s)", g.Matchers)
		return nil
	}
	now := time.Now
	if g.Now != nil {
		now = g.Now
	}
	hide := map[string]bool{"alertname": true, "severity": true}
	for _, m := range g.Matchers {
		if m.Op == Equal {
			hide[m.Name] = true // the same on every line
		}
	}
	for i, a := range alerts {
		if i == MaxLines {
			s.Info("… and %d more firing alerts", len(alerts)-MaxLines)
			break
		}
		s.Fail("%s", Line(a, hide, now()))
	}
	count := fmt.Sprintf("%d alerts are", len(alerts))
	if len(alerts) == 1 {
		count = "1 alert is"
	}
	facts := map[string]string{"count": count, "matchers": g.Matchers.String(), "names": JoinNames(names, MaxNamesBytes)}
	if _, ok := g.Source.(*Prometheus); ok {
		facts["note"] = " (source=prometheus does not see silences: use source=alertmanager for them to count)"
	}
	blocks := fmt.Sprintf("%d firing production alerts block", len(alerts))
	if len(alerts) == 1 {
		blocks = "1 firing production alert blocks"
	}
	return failure.New(failure.AlertsFiring, facts, "%s the release", blocks)
}

var severityRank = map[string]int{"critical": 0, "error": 1, "warning": 2, "info": 3}

func rank(sev string) int {
	if r, ok := severityRank[strings.ToLower(sev)]; ok {
		return r
	}
	return len(severityRank)
}

// SortAlerts orders alerts most severe first, then oldest first, then by name.
func SortAlerts(alerts []Alert) {
	sort.SliceStable(alerts, func(i, j int) bool {
		a, b := alerts[i], alerts[j]
		if ra, rb := rank(a.Labels["severity"]), rank(b.Labels["severity"]); ra != rb {
			return ra < rb
		}
		if !a.Since.Equal(b.Since) {
			return a.Since.Before(b.Since)
		}
		return a.Name < b.Name
	})
}

// DistinctNames lists the alert names in the order of alerts, each once.
func DistinctNames(alerts []Alert) []string {
	seen := map[string]bool{}
	var out []string
	for _, a := range alerts {
		n := a.Name
		if n == "" {
			n = "(no alertname)"
		}
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out
}

// JoinNames joins names with commas in at most limit bytes, ending in "…(+N more)" when some
// did not fit.
func JoinNames(names []string, limit int) string {
	if full := strings.Join(names, ","); len(full) <= limit {
		return full
	}
	// Room for the longest possible suffix, so that adding a name never has to be undone.
	reserve := len(fmt.Sprintf("…(+%d more)", len(names)))
	var b strings.Builder
	n := 0
	for _, name := range names {
		sep := 0
		if n > 0 {
			sep = 1
		}
		if b.Len()+sep+len(name)+reserve > limit {
			break
		}
		if sep == 1 {
			b.WriteByte(',')
		}
		b.WriteString(name)
		n++
	}
	if n > 0 {
		b.WriteByte(',')
	}
	fmt.Fprintf(&b, "…(+%d more)", len(names)-n)
	return b.String()
}

// labelOrder is which labels a line shows first: they say where an alert fires.
var labelOrder = []string{"namespace", "service", "job", "cluster", "pod", "instance", "container"}

// Line is the one-line description of a firing alert: name, severity, up to four labels, since
// when, and its summary.
func Line(a Alert, hide map[string]bool, now time.Time) string {
	var b strings.Builder
	name := a.Name
	if name == "" {
		name = "(no alertname)"
	}
	b.WriteString(clip(name, 80))
	if sev := a.Labels["severity"]; sev != "" {
		fmt.Fprintf(&b, " [%s]", clip(sev, 20))
	}
	shown := 0
	show := func(k string) {
		if shown < 4 && !hide[k] {
			if v, ok := a.Labels[k]; ok {
				fmt.Fprintf(&b, " %s=%s", k, clip(v, 40))
				shown++
			}
		}
	}
	for _, k := range labelOrder {
		show(k)
	}
	rest := make([]string, 0, len(a.Labels))
	for k := range a.Labels {
		if !slices.Contains(labelOrder, k) {
			rest = append(rest, k)
		}
	}
	sort.Strings(rest)
	for _, k := range rest {
		show(k)
	}
	if !a.Since.IsZero() {
		fmt.Fprintf(&b, " since %s", a.Since.UTC().Format(time.RFC3339))
		if d := now.Sub(a.Since); d >= time.Second {
			fmt.Fprintf(&b, " (for %s)", age(d))
		}
	}
	for _, k := range []string{"summary", "description", "message"} {
		if v := a.Annotations[k]; v != "" {
			fmt.Fprintf(&b, ": %s", clip(v, 140))
			break
		}
	}
	return b.String()
}

// age is a duration as people say it: 45s, 12m, 3h12m, 5d.
func age(d time.Duration) string {
	switch {
	case d < time.Minute:
		return d.Round(time.Second).String()
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d/time.Minute))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh%dm", int(d/time.Hour), int(d%time.Hour/time.Minute))
	}
	return fmt.Sprintf("%dd", int(d/(24*time.Hour)))
}

// clip puts s on one line of at most n runes.
func clip(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}
