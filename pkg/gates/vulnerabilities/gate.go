// Package vulnerabilities is the vulnerability gate: it reads Quay's security scan (Clair) of the pinned
// image digest and blocks a production release while the image has critical vulnerabilities
// (optionally high ones too).
//
// Quay scans single-platform manifests only and answers "unsupported" for a multi-arch index, so
// the gate then scans each platform digest the image gate listed; the image's counts are, per
// severity, those of its worst platform. A scan still "queued" is polled with backoff until a
// deadline. The gate fails closed: a scan that is missing, failed, unsupported or unreadable
// blocks, unless the gate is skipped explicitly. The counts are written in the SCAN_OUTPUT form
// of Konflux's clair-scan task.
package vulnerabilities

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/release-to-prod/release-to-prod/pkg/clients/dockerconfig"
	"github.com/release-to-prod/release-to-prod/pkg/clients/httpclient"
	"github.com/release-to-prod/release-to-prod/pkg/step"
	"github.com/release-to-prod/release-to-prod/pkg/step/failure"
)

// Config is the step's configuration (environment, or the same names as flags).
type Config struct {
	step.Common
	ImageURL        string `env:"STAGING_IMAGE, required" desc:"Quay repository of the image, host/path (the image gate's STAGING_IMAGE), e.g. quay.io/redhat-user-workloads/ns/app/comp"`
	ImageDigest     string `env:"PINNED_DIGEST, required" desc:"digest of the staging image (sha256:…) that check-image pinned, the index digest for a multi-arch image"`
	PlatformDigests string `env:"PLATFORM_DIGESTS" desc:"for an index: os/arch=sha256:… pairs, comma-separated (the image gate's PLATFORM_DIGESTS)"`
	QuayAPIURL      string `check:"url" env:"QUAY_API_URL, default=https://quay.io" desc:"base URL of Quay's API (https; http only on loopback)"`
	TokenFile       string `env:"TOKEN_FILE" desc:"file holding a Quay OAuth token (a Task sets it to the quay_token_key of the mounted quay_token_secret); empty for none"`
	TokenSecret     string `param:"quay_token_secret" env:"TOKEN_SECRET, default=release-to-prod-quay-token" desc:"Secret with a Quay OAuth token (repo:read) under quay_token_key; absent under this default name: registry_secret's Quay entry"`
	// The robot account of the image's registry entry is sent as basic auth when no token is.
	dockerconfig.Setting
	httpclient.CABundle
	FailOnCritical string        `check:"bool" env:"FAIL_ON_CRITICAL, default=true" desc:"true blocks on any critical vulnerability"`
	FailOnHigh     string        `check:"bool" env:"FAIL_ON_HIGH, default=false" desc:"true blocks on any high vulnerability too"`
	PollTimeout    time.Duration `param:"scan_poll_timeout" env:"POLL_TIMEOUT, default=10m" desc:"how long to wait for a scan that Quay still has queued (Go duration)"`
	PollInterval   time.Duration `param:"scan_poll_interval" env:"POLL_INTERVAL, default=5s" desc:"first wait between polls of a queued scan; doubled each time up to 30s"`
	RequestTimeout time.Duration `param:"-" env:"REQUEST_TIMEOUT, default=30s" desc:"time limit of one request to Quay (a hung request is retried)"`
	Skip           string        `param:"skip_vulnerabilities" check:"bool" env:"SKIP, default=false" desc:"true to skip the vulnerability gate explicitly (it passes and says so)"`
}

// Result names.
const (
	ResultScanOutput    step.ResultName = "SCAN_OUTPUT"
	ResultCriticalCount step.ResultName = "CRITICAL_COUNT"
)

// Skipped is SCAN_OUTPUT (and CRITICAL_COUNT says "skipped") when the gate is skipped: zeros
// would claim a clean scan that never happened.
const Skipped = `{"skipped":true}`

// Limits of what the gate prints.
const (
	MaxLines        = 20 // finding lines: a screenful
	MaxCVEsInAdvice = 5
	MaxPollInterval = 30 * time.Second
)

// Run is the step: check-vulnerabilities.
func Run(ctx context.Context, s *step.Step, cfg *Config) error { return run(ctx, s, cfg) }

// run is Run with extra options for the Quay client, applied after the gate's own (the tests
// shorten the backoff).
func run(ctx context.Context, s *step.Step, cfg *Config, clientOpts ...httpclient.Option) error {
	skip, err := step.ParseBool("skip", cfg.Skip, false)
	if err != nil {
		return err
	}
	if skip {
		s.Skip("vulnerability gate skipped (skip=true)")
		if err := s.Result(ResultScanOutput, Skipped); err != nil {
			return err
		}
		return s.Result(ResultCriticalCount, "skipped")
	}
	g, err := cfg.Gate(s, clientOpts...)
	if err != nil {
		return err
	}
	return g.Check(ctx, s)
}

// Gate builds the gate cfg describes, checking every setting before anything is sent. clientOpts
// are applied to the Quay client after the gate's own.
func (cfg *Config) Gate(s *step.Step, clientOpts ...httpclient.Option) (*Gate, error) {
	img, err := ParseImage(cfg.ImageURL, cfg.ImageDigest)
	if err != nil {
		return nil, err
	}
	platforms, err := ParsePlatforms(cfg.PlatformDigests)
	if err != nil {
		return nil, err
	}
	base, err := APIBase(cfg.QuayAPIURL)
	if err != nil {
		return nil, err
	}
	g := &Gate{Image: img, Platforms: platforms, PollTimeout: cfg.PollTimeout, PollInterval: cfg.PollInterval}
	if g.FailOnCritical, err = step.ParseBool("fail_on_critical", cfg.FailOnCritical, false); err != nil {
		return nil, err
	}
	if g.FailOnHigh, err = step.ParseBool("fail_on_high", cfg.FailOnHigh, false); err != nil {
		return nil, err
	}
	if cfg.PollTimeout < 0 || cfg.PollInterval <= 0 || cfg.RequestTimeout <= 0 {
		return nil, failure.New(failure.InvalidInput, nil, "poll_timeout %s must not be negative, poll_interval %s and request_timeout %s must be positive", cfg.PollTimeout, cfg.PollInterval, cfg.RequestTimeout)
	}
	opts := []httpclient.Option{httpclient.WithTimeout(cfg.RequestTimeout), httpclient.WithBackoff(0, 10*time.Second)}
	ca, caNote, err := cfg.CAOption(cfg)
	if err != nil {
		return nil, err
	}
	if ca != nil {
		opts = append(opts, ca)
	}
	if caNote != "" {
		s.Skip("%s", caNote)
	}
	auth, secret, err := cfg.auth(s, img, base)
	if err != nil {
		return nil, err
	}
	c, err := httpclient.New("Quay", append(append(opts, auth...), clientOpts...)...)
	if err != nil {
		return nil, failure.AsInvalid(fmt.Errorf("ca_file: %w", err))
	}
	g.Scanner = &Scanner{Base: base, Client: c, Secret: secret}
	return g, nil
}

// auth picks the credentials: an OAuth token, or a robot account from a docker config.json, or
// none for a public repository. It returns the client option that sends them (none for none) and
// where they come from, for advice.
func (cfg *Config) auth(s *step.Step, img Image, base string) ([]httpclient.Option, string, error) {
	token := step.MountOf(cfg, "Secret", "TOKEN_SECRET", cfg.TokenSecret, cfg.TokenFile).WithKeyParam("quay_token_key")
	tokenFile, err := token.Resolve()
	if err != nil {
		return nil, "", err
	}
	docker := cfg.Mount(cfg)
	dockerFile, err := docker.Resolve()
	if err != nil {
		return nil, "", err
	}
	tokenOn, dockerOn := tokenFile != "", dockerFile != ""
	// Credentials go only to the host they are for. The token and the image's registry entry
	// are for the image's host: sent to a quay_api_url on another host (a typo, a param set by
	// someone else) they would be handed to whoever runs it.
	apiHost := hostOf(base)
	sameHost := SameHost(apiHost, img.Host)
	if tokenOn && !sameHost {
		s.Warn("the Quay OAuth token is not sent: quay_api_url's host %s is not the image's host %s", apiHost, img.Host)
		tokenOn = false
	}
	switch {
	case tokenOn:
		if dockerOn {
			// The Pipeline binds the registry credentials for the image gate too; the token,
			// made for the API, is the better credential here.
			s.Info("  using the Quay OAuth token (the docker config.json is bound too, and not used for the scan)")
		}
		bearer, err := httpclient.BearerFromFile(tokenFile)
		if err != nil {
			return nil, "", failure.AsInvalid(fmt.Errorf("token_file: %w", err))
		}
		return []httpclient.Option{bearer}, "the OAuth token in " + token.Where(), nil
	case dockerOn:
		// The image's entry when the API is on the image's host; else only the API host's own.
		ref := img.Ref()
		if !sameHost {
			ref = apiHost
		}
		creds, ok, err := dockerconfig.Lookup(dockerFile, ref)
		if err != nil {
			return nil, "", failure.AsInvalid(fmt.Errorf("docker_config_file: %w", err))
		}
		where := "the docker config.json in " + docker.Where()
		if !ok {
			s.Warn("no entry for %s in %s: asking Quay without credentials", ref, where)
			return nil, where + ", which has no entry for " + hostOnly(ref), nil
		}
		return []httpclient.Option{httpclient.WithBasicAuth(creds.Username, creds.Password)}, where, nil
	}
	return nil, fmt.Sprintf("(none was given: create the Secret %s or %s for a private repository)", token.Name, docker.Name), nil
}

// SameHost reports whether two host[:port]s name the same server: case aside, and with
// https' default port or without.
func SameHost(a, b string) bool {
	norm := func(h string) string { return strings.TrimSuffix(strings.ToLower(h), ":443") }
	return norm(a) == norm(b)
}

// hostOnly is the host of a docker config key (host or host/path).
func hostOnly(ref string) string {
	h, _, _ := strings.Cut(ref, "/")
	return h
}

// Gate decides from Quay's scan of one image.
type Gate struct {
	Scanner        *Scanner
	Image          Image
	Platforms      []Platform // from the image gate; used when the digest is an index
	FailOnCritical bool
	FailOnHigh     bool
	PollTimeout    time.Duration
	PollInterval   time.Duration
	Now            func() time.Time // time.Now when nil
}

// scanned is the report of one platform (Name empty for a single-platform image).
type scanned struct {
	Platform Platform
	Findings []Finding
	Tally    Tally
}

// Check reads the scan (polling while queued, per platform for an index), prints the worst
// findings, writes SCAN_OUTPUT and CRITICAL_COUNT, and returns failure.CriticalVulnerabilities
// when the image must not be released.
func (g *Gate) Check(ctx context.Context, s *step.Step) error {
	start := g.now()
	deadline := start.Add(g.PollTimeout)
	rep, err := g.await(ctx, s, g.Image.Digest, start, deadline, nil)
	if err != nil {
		return err
	}
	var scans []scanned
	switch rep.Status {
	case StatusScanned:
		fs := rep.Findings("")
		scans = append(scans, scanned{Platform: Platform{Digest: g.Image.Digest}, Findings: fs, Tally: TallyOf(fs)})
	case StatusUnsupported:
		if len(g.Platforms) == 0 {
			return failure.New(failure.ScanUnsupported, map[string]string{"what": g.Image.String(),
				"why": ": it is a manifest list (multi-arch index) or an artifact without image layers"},
				"Quay does not scan %s (status unsupported) and no per-platform digests were given: pass platform_digests (the image gate's PLATFORM_DIGESTS) for a multi-arch image", g.Image)
		}
		s.Info("%s is an index: Quay scans its platforms, not the index; scanning %d platforms", g.Image, len(g.Platforms))
		if scans, err = g.scanPlatforms(ctx, s, start, deadline); err != nil {
			return err
		}
	default:
		return scanFailed(g.Image.String(), rep.Status)
	}
	return g.decide(s, scans)
}

// scanPlatforms reads the report of every platform once, in order (a platform that failed or
// cannot be scanned stops the gate before the next is asked), then polls the ones Quay has
// queued together, each on its own backoff within the one deadline: the wait for a multi-arch
// image is that of its slowest platform, not the sum of them.
func (g *Gate) scanPlatforms(ctx context.Context, s *step.Step, start, deadline time.Time) ([]scanned, error) {
	reports := make([]*SecurityReport, len(g.Platforms))
	var queued []int
	for i, p := range g.Platforms {
		rep, err := g.Scanner.Report(ctx, g.Image, p.Digest)
		if err != nil {
			return nil, fmt.Errorf("platform %s: %w", p.Name, err)
		}
		if err := g.platformError(p, rep); err != nil {
			return nil, err
		}
		reports[i] = rep
		if rep.Status == StatusQueued {
			queued = append(queued, i)
		}
	}
	if err := g.awaitAll(ctx, s, queued, reports, start, deadline); err != nil {
		return nil, err
	}
	var scans []scanned
	for i, p := range g.Platforms {
		rep := reports[i]
		if err := g.platformError(p, rep); err != nil {
			return nil, err
		}
		if rep.Status == StatusUnsupported {
			// buildx puts provenance/SBOM attestation manifests into the index as platform
			// unknown/unknown; they hold no image layers, so Quay has nothing to scan.
			s.Skip("%s %s not scanned: an attestation manifest, no image layers", p.Name, p.Digest)
			continue
		}
		fs := rep.Findings(p.Name)
		t := TallyOf(fs)
		s.Info("%-14s %s: %s", p.Name, p.Digest, t.All)
		scans = append(scans, scanned{Platform: p, Findings: fs, Tally: t})
	}
	if len(scans) == 0 {
		return nil, failure.New(failure.ScanUnsupported, map[string]string{"what": g.Image.String(), "why": ": none of its platforms is a scannable image"},
			"no platform of %s could be scanned", g.Image)
	}
	return scans, nil
}

// platformError says why a platform's report fails the gate: a scan that failed, or a platform
// Quay does not scan (other than a buildx attestation manifest). Queued and scanned are fine.
func (g *Gate) platformError(p Platform, rep *SecurityReport) error {
	what := fmt.Sprintf("platform %s (%s) of %s/%s", p.Name, p.Digest, g.Image.Host, g.Image.Repository)
	switch rep.Status {
	case StatusScanned, StatusQueued:
		return nil
	case StatusUnsupported:
		if p.Name == "unknown/unknown" {
			return nil
		}
		return failure.New(failure.ScanUnsupported, map[string]string{"what": what, "fix": "this platform's image cannot be scanned, so the gate fails closed: check that " + p.Digest + " is a container image of " + p.Name + " (not an index or artifact), rebuild it, or skip the gate deliberately"},
			"Quay does not scan %s: status unsupported", what)
	}
	return scanFailed(what, rep.Status)
}

// awaitAll polls the queued platforms together until each is scanned; the first error stops the
// others.
func (g *Gate) awaitAll(ctx context.Context, s *step.Step, queued []int, reports []*SecurityReport, start, deadline time.Time) error {
	if len(queued) == 0 {
		return nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make([]error, len(reports))
	var wg sync.WaitGroup
	var once sync.Once
	failed := -1 // the platform whose error stopped the others
	for _, i := range queued {
		wg.Go(func() {
			reports[i], errs[i] = g.await(ctx, s, g.Platforms[i].Digest, start, deadline, reports[i])
			if errs[i] != nil {
				once.Do(func() { failed = i })
				cancel()
			}
		})
	}
	wg.Wait()
	if failed >= 0 {
		return fmt.Errorf("platform %s: %w", g.Platforms[failed].Name, errs[failed])
	}
	return nil
}

func scanFailed(what, status string) error {
	facts := map[string]string{"what": what, "status": status}
	if status == StatusFailed {
		facts["hint"] = "Quay retries failed scans itself, so re-running later may be enough"
	}
	return failure.New(failure.ScanFailed, facts, "Quay could not scan %s: status %s", what, status)
}

// await fetches the report of digest, polling while Quay has it queued: the wait starts at
// PollInterval and doubles up to MaxPollInterval, and the last poll happens at the deadline.
// A report already read (queued) may be passed as first, so that it is not asked again at once.
func (g *Gate) await(ctx context.Context, s *step.Step, digest string, start, deadline time.Time, first *SecurityReport) (*SecurityReport, error) {
	interval := g.PollInterval
	for {
		rep := first
		first = nil
		if rep == nil {
			var err error
			if rep, err = g.Scanner.Report(ctx, g.Image, digest); err != nil {
				return nil, err
			}
		}
		if rep.Status != StatusQueued {
			return rep, nil
		}
		now := g.now()
		if !now.Before(deadline) {
			waited := now.Sub(start).Round(time.Second).String()
			return nil, failure.New(failure.ScanQueued, map[string]string{"digest": digest, "waited": waited},
				"Quay's scan of %s/%s@%s was still queued after %s (poll_timeout %s)", g.Image.Host, g.Image.Repository, digest, waited, g.PollTimeout)
		}
		s.Info("scan queued for %s (elapsed %s)", digest, now.Sub(start).Round(time.Second))
		t := time.NewTimer(min(interval, deadline.Sub(now)))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("waiting for Quay's scan of %s: %w", digest, ctx.Err())
		case <-t.C:
		}
		interval = min(interval*2, MaxPollInterval)
	}
}

func (g *Gate) now() time.Time {
	if g.Now != nil {
		return g.Now()
	}
	return time.Now()
}

// decide writes the results, prints the findings and blocks on the configured severities.
func (g *Gate) decide(s *step.Step, scans []scanned) error {
	var total Tally
	lists := make([][]Finding, len(scans))
	for i, sc := range scans {
		total = total.Max(sc.Tally)
		lists[i] = sc.Findings
	}
	if err := s.Result(ResultScanOutput, total.ScanOutput()); err != nil {
		return err
	}
	if err := s.Result(ResultCriticalCount, strconv.Itoa(total.All[Critical])); err != nil {
		return err
	}
	findings := MergeFindings(lists...)
	g.logFindings(s, findings, len(scans))

	summary := fmt.Sprintf("%s (unpatched: %s)", total.All, total.Unpatched)
	if len(scans) > 1 {
		summary += fmt.Sprintf("; worst of %d platforms per severity", len(scans))
	}
	if err := g.blocked(total, findings, summary); err != nil {
		return err
	}
	g.passed(s, total, summary)
	return nil
}

// blocks says whether a finding of severity sev blocks the release.
func (g *Gate) blocks(sev Severity) bool {
	return sev == Critical && g.FailOnCritical || sev == High && g.FailOnHigh
}

// logFindings prints up to MaxLines findings, the blocking ones as failures.
func (g *Gate) logFindings(s *step.Step, findings []Finding, platforms int) {
	for i, f := range findings {
		if i == MaxLines {
			s.Info("… and %d more", len(findings)-MaxLines)
			break
		}
		line := findingLine(f, platforms)
		if g.blocks(f.Severity) {
			s.Fail("%s", line)
		} else {
			s.Info("%s", line)
		}
	}
}

// blocked is the failure, with its advice, when total holds findings that block; nil when
// none do.
func (g *Gate) blocked(total Tally, findings []Finding, summary string) error {
	var blocking []string
	var cves []string
	params := []string{}
	for _, sev := range []Severity{Critical, High} {
		if !g.blocks(sev) {
			continue
		}
		params = append(params, "fail_on_"+sev.String()+"=false")
		if n := total.All[sev]; n > 0 {
			blocking = append(blocking, countPhrase(n, total.All[sev]-total.Unpatched[sev], sev))
		}
	}
	for _, f := range findings {
		if g.blocks(f.Severity) && len(cves) < MaxCVEsInAdvice && !slices.Contains(cves, f.CVE) {
			cves = append(cves, f.CVE)
		}
	}
	if len(blocking) == 0 {
		return nil
	}
	counts := strings.Join(blocking, " and ")
	n := countBlocking(findings, g.blocks)
	if n > len(cves) {
		cves = append(cves, fmt.Sprintf("… (%d in all)", n))
	}
	return failure.New(failure.CriticalVulnerabilities, map[string]string{
		"image": g.Image.String(), "counts": counts, "cves": strings.Join(cves, ", "), "param": strings.Join(params, " and "),
	}, "%s blocked by %s: %s", g.Image, counts, summary)
}

// passed says why nothing blocked: which severities the settings let through.
func (g *Gate) passed(s *step.Step, total Tally, summary string) {
	switch {
	case !g.FailOnCritical && total.All[Critical] > 0:
		s.Warn("%d critical vulnerabilities in %s do not block: fail_on_critical=false", total.All[Critical], g.Image)
		s.OK("vulnerability gate passed with fail_on_critical=false: %s", summary)
	case g.FailOnHigh:
		s.OK("no critical or high vulnerabilities in %s: %s", g.Image, summary)
	case !g.FailOnCritical:
		s.OK("vulnerability gate passed (fail_on_critical=false): %s", summary)
	default:
		s.OK("no critical vulnerabilities in %s: %s", g.Image, summary)
	}
}

func countPhrase(n, fixable int, sev Severity) string {
	word := "vulnerabilities"
	if n == 1 {
		word = "vulnerability"
	}
	return fmt.Sprintf("%d %s %s (%d fixable)", n, sev, word, fixable)
}

func countBlocking(fs []Finding, blocks func(Severity) bool) int {
	seen := map[string]bool{}
	for _, f := range fs {
		if blocks(f.Severity) {
			seen[f.CVE] = true
		}
	}
	return len(seen)
}

// findingLine is "CVE-2024-1 [critical] openssl 3.0.7-1, fixed in 3.0.7-2: https://… (linux/arm64)";
// the platforms are named only when the finding is not on every platform.
func findingLine(f Finding, platforms int) string {
	fix := "no fix yet"
	if f.Fixable() {
		fix = "fixed in " + f.FixedBy
	}
	line := fmt.Sprintf("%s [%s] %s %s, %s", clip(f.CVE, 80), f.Severity, clip(f.Package, 80), clip(f.Version, 80), clip(fix, 100))
	if f.Link != "" {
		line += ": " + clip(f.Link, 200)
	}
	if platforms > 1 && len(f.Platforms) < platforms {
		line += " (" + strings.Join(f.Platforms, ", ") + " only)"
	}
	return line
}

// clip bounds a field of the report on one line: the reply is not trusted to be short or clean.
func clip(s string, n int) string { return step.Clip(strings.Join(strings.Fields(s), " "), n) }
