// Package image is the image gate: it finds the staging repository of a component (from its
// Konflux Component or Snapshot, never guessed unless nothing names it), checks that the image
// tagged with the commit SHA exists with one HEAD request, pins its digest, and for a
// multi-platform index lists the digest of each platform.
package image

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/release-to-prod/release-to-prod/pkg/clients/dockerconfig"
	"github.com/release-to-prod/release-to-prod/pkg/clients/httpclient"
	"github.com/release-to-prod/release-to-prod/pkg/clients/konflux"
	"github.com/release-to-prod/release-to-prod/pkg/step"
	"github.com/release-to-prod/release-to-prod/pkg/step/commit"
	"github.com/release-to-prod/release-to-prod/pkg/step/failure"
)

// Config is the image gate's configuration.
type Config struct {
	step.Common
	step.Subject
	Repository string `env:"REPOSITORY" desc:"staging repository (host/path); empty: read it from the Component"`
	dockerconfig.Setting
	konflux.Access
	Timeout          time.Duration `param:"-" env:"TIMEOUT, default=2m" desc:"time limit for the whole check"`
	RequestTimeout   time.Duration `param:"-" env:"REQUEST_TIMEOUT, default=30s" desc:"time limit for one registry request (a hung request is retried)"`
	BuildWaitTimeout time.Duration `env:"BUILD_WAIT_TIMEOUT, default=0s" desc:"how long to wait for the commit's build (image pushed, push Snapshot tested) before the gates run, for a run started on merge together with the build; 0: no wait (the build is done)"`
	ProgressInterval time.Duration `check:"period" env:"PROGRESS_INTERVAL, default=30s" desc:"how often to print progress while waiting (Go duration)"`
}

// The image gate's results. Neither may match Tekton Chains' type hints (IMAGE_URL,
// IMAGE_DIGEST, *_IMAGE_URL, IMAGES, …): this step builds nothing, and Chains would sign the
// image being released as if this TaskRun had built it.
const (
	ResultStagingImage    step.ResultName = "STAGING_IMAGE"
	ResultPinnedDigest    step.ResultName = "PINNED_DIGEST"
	ResultPlatformDigests step.ResultName = "PLATFORM_DIGESTS"
)

// FallbackRepository is used only when neither the Component nor a Snapshot names one.
const FallbackRepository = "quay.io/redhat-user-workloads/%s/%s/%s"

// MaxPlatformsResult bounds the PLATFORM_DIGESTS result within the TaskRun's 4096 bytes.
const MaxPlatformsResult = 2048

// Found is what the gate pinned.
type Found struct {
	Repository string
	Digest     string
	MediaType  string
	Platforms  []Platform // empty for a single-platform image
}

// Platform is one entry of an index.
type Platform struct {
	Platform string // os/arch[/variant]
	Digest   string
}

// Run is the step: resolve the repository, check the tag, write the results.
func Run(ctx context.Context, s *step.Step, cfg *Config) error {
	sha, err := commit.ParseSHA(cfg.CommitSHA)
	if err != nil {
		return failure.Wrap(failure.InvalidInput, nil, err)
	}
	if err := konflux.ValidNames(map[string]string{"NAMESPACE": cfg.Namespace, "COMPONENT": cfg.Component, "APPLICATION": cfg.Application}); err != nil {
		return err
	}
	// Empty results first: when the check fails, the steps and the finally task that read them
	// get "" (nothing pinned) instead of a reference Tekton cannot resolve, which would skip them.
	for _, r := range []step.ResultName{ResultStagingImage, ResultPinnedDigest, ResultPlatformDigests} {
		if err := s.Result(r, ""); err != nil {
			return err
		}
	}
	ctx, cancel := context.WithTimeout(ctx, buildWaitBudget(cfg))
	defer cancel()

	if err := resolveCredentials(s, cfg); err != nil {
		return err
	}
	repo, source, err := resolveRepository(ctx, cfg, sha)
	if err != nil {
		return err
	}
	s.OK("repository %s (%s)", repo, source)
	if err := waitForBuild(ctx, s, cfg, repo, sha); err != nil {
		return err
	}

	found, err := Check(ctx, repo, sha, cfg)
	if err != nil {
		return err
	}
	return report(s, repo, sha, found)
}

// resolveCredentials points cfg at the registry credentials' file, or at none. The Task mounts
// the Secret optionally: absent under its default name means no credentials, said out loud; a
// Secret the user named that is absent, or without the key, is invalid input, said now rather
// than as a registry's 401 later.
func resolveCredentials(s *step.Step, cfg *Config) error {
	if cfg.DockerConfigFile == "" {
		return nil
	}
	m := cfg.Mount(cfg)
	file, err := m.Resolve()
	if err != nil {
		return err
	}
	if cfg.DockerConfigFile = file; file == "" {
		s.Skip("registry credentials %s: pulling anonymously", m.NotConfigured())
	}
	return nil
}

// report prints the image found at repo:tag, its platforms, and writes its results.
func report(s *step.Step, repo, tag string, found *Found) error {
	if len(found.Platforms) == 0 {
		s.OK("image %s:%s exists: %s", repo, tag, found.Digest)
	} else {
		names := make([]string, len(found.Platforms))
		for i, p := range found.Platforms {
			names[i] = p.Platform
		}
		s.OK("image %s:%s exists: %s (%s)", repo, tag, found.Digest, strings.Join(names, ", "))
		for _, p := range found.Platforms {
			s.Info("  %-14s %s", p.Platform, p.Digest)
		}
	}
	if err := s.Result(ResultStagingImage, repo); err != nil {
		return err
	}
	if err := s.Result(ResultPinnedDigest, found.Digest); err != nil {
		return err
	}
	platforms, err := PlatformsResult(found.Platforms)
	if err != nil {
		return err
	}
	return s.Result(ResultPlatformDigests, platforms)
}

// PlatformsResult renders platforms as "os/arch=digest,…" and refuses an index too large for
// the result budget rather than truncating it (a partial list would skip platforms in the
// vulnerability scan).
func PlatformsResult(ps []Platform) (string, error) {
	parts := make([]string, len(ps))
	for i, p := range ps {
		parts[i] = p.Platform + "=" + p.Digest
	}
	out := strings.Join(parts, ",")
	if len(out) > MaxPlatformsResult {
		return "", failure.New(failure.ResultsTooLarge, nil, "the index has %d platforms: their digests take %d bytes, over the %d-byte result limit", len(ps), len(out), MaxPlatformsResult)
	}
	return out, nil
}

func resolveRepository(ctx context.Context, cfg *Config, sha string) (repo, source string, err error) {
	if cfg.Repository != "" {
		repo, err := repositoryOf(cfg.Repository)
		return repo, "from the repository param", err
	}
	kc, err := cfg.Client(cfg.Namespace)
	if err != nil {
		return "", "", err
	}
	comp, err := kc.GetComponent(ctx, cfg.Component)
	if err != nil {
		return "", "", fmt.Errorf("reading the staging repository from the Component: %w", err)
	}
	if comp.ContainerImage != "" {
		repo, err := repositoryOf(comp.ContainerImage)
		return repo, "from Component " + comp.Name, err
	}
	snaps, err := kc.ListSnapshots(ctx, cfg.Component, sha)
	if err != nil {
		return "", "", fmt.Errorf("reading the staging repository from Snapshots: %w", err)
	}
	for _, sn := range snaps {
		if img := sn.Images[cfg.Component]; img != "" {
			repo, err := repositoryOf(img)
			return repo, "from Snapshot " + sn.Name, err
		}
	}
	return fmt.Sprintf(FallbackRepository, cfg.Namespace, cfg.Application, cfg.Component),
		"default path: neither the Component nor a Snapshot names a repository", nil
}

// repositoryOf strips a tag or digest from an image reference.
func repositoryOf(ref string) (string, error) {
	ref = strings.TrimSpace(ref)
	// The first element must be a registry host (it has a dot or a port, or is localhost), as
	// docker reads it: a Konflux image always names its registry, and "../x" is no host.
	host, _, _ := strings.Cut(ref, "/")
	if !strings.ContainsAny(host, ".:") && host != "localhost" || strings.Trim(host, ".") == "" || strings.Contains(host, "..") {
		return "", failure.New(failure.InvalidInput, nil, "image repository %.200q does not start with a registry host (e.g. quay.io/ns/repo)", ref)
	}
	r, err := name.ParseReference(ref)
	if err != nil {
		return "", failure.New(failure.InvalidInput, nil, "image repository %.200q: %w", ref, err)
	}
	return r.Context().Name(), nil
}

// Check looks up repo:tag with one HEAD request, and for an index reads its manifest by digest
// to list the platforms.
func Check(ctx context.Context, repo, tag string, cfg *Config) (*Found, error) {
	var nameOpts []name.Option
	if isLoopback(repo) {
		// A registry on this machine (the sandbox, kind, a port-forward) speaks plain HTTP:
		// go straight to it rather than trying TLS first.
		nameOpts = append(nameOpts, name.Insecure)
	}
	ref, err := name.NewTag(repo+":"+tag, nameOpts...)
	if err != nil {
		return nil, failure.New(failure.InvalidInput, nil, "image reference %s:%s: %w", repo, tag, err)
	}
	opts, credsFrom, err := remoteOptions(ctx, cfg, repo)
	if err != nil {
		return nil, err
	}
	desc, err := remote.Head(ref, opts...)
	if err != nil {
		return nil, classify(err, ref.String(), credsFrom, cfg)
	}
	f := &Found{Repository: repo, Digest: desc.Digest.String(), MediaType: string(desc.MediaType)}
	if !desc.MediaType.IsIndex() {
		return f, nil
	}
	idx, err := remote.Index(ref.Context().Digest(f.Digest), opts...)
	if err != nil {
		return nil, classify(err, ref.String(), credsFrom, cfg)
	}
	m, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("reading index %s@%s: %w", repo, f.Digest, err)
	}
	for _, d := range m.Manifests {
		f.Platforms = append(f.Platforms, Platform{Platform: platformString(d.Platform), Digest: d.Digest.String()})
	}
	sort.Slice(f.Platforms, func(i, j int) bool { return f.Platforms[i].Platform < f.Platforms[j].Platform })
	return f, nil
}

// isLoopback reports whether the registry of repo (host[:port]/path) is on this machine.
func isLoopback(repo string) bool {
	host, _, _ := strings.Cut(repo, "/")
	return httpclient.IsLoopback(host)
}

func platformString(p *v1.Platform) string {
	if p == nil {
		return "unknown"
	}
	return p.String()
}

func remoteOptions(ctx context.Context, cfg *Config, repo string) ([]remote.Option, string, error) {
	// go-containerregistry retries 408/429/5xx and transient network errors (waiting 1s, then
	// 3s); the header timeout turns a hung registry into such a retryable error.
	tr := remote.DefaultTransport.(*http.Transport).Clone()
	tr.ResponseHeaderTimeout = cfg.RequestTimeout
	opts := []remote.Option{remote.WithContext(ctx), remote.WithUserAgent("release-to-prod"), remote.WithTransport(tr), remote.WithRetryPredicate(retryable(ctx))}
	if cfg.DockerConfigFile == "" {
		return opts, "", nil
	}
	creds, ok, err := dockerconfig.Lookup(cfg.DockerConfigFile, repo)
	if err != nil {
		return nil, "", failure.Wrap(failure.InvalidInput, nil, err)
	}
	if !ok {
		return opts, "", nil
	}
	return append(opts, remote.WithAuth(&authn.Basic{Username: creds.Username, Password: creds.Password})), "Secret " + cfg.DockerConfigSecret + " (docker config.json)", nil
}

// retryable adds per-request timeouts to go-containerregistry's transient errors; the step's
// own deadline is never retried.
func retryable(ctx context.Context) func(error) bool {
	return func(err error) bool {
		// Checked on the context, not the error: net/http's per-request timeout error also
		// reports itself as context.DeadlineExceeded.
		return ctx.Err() == nil && transient(err)
	}
}

func transient(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	var tmp interface{ Temporary() bool } // go-containerregistry marks 408/429/5xx replies so
	if errors.As(err, &tmp) && tmp.Temporary() {
		return true
	}
	return errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, net.ErrClosed)
}

// classify maps a registry error to the failure catalog.
func classify(err error, ref, credsFrom string, cfg *Config) error {
	var te *transport.Error
	if !errors.As(err, &te) {
		return fmt.Errorf("checking %s: %w", ref, err)
	}
	switch {
	case te.StatusCode == http.StatusNotFound || hasCode(te, transport.ManifestUnknownErrorCode, transport.NameUnknownErrorCode):
		return failure.New(failure.ImageNotFound, map[string]string{
			"image": ref, "component": cfg.Component, "application": cfg.Application,
		}, "image %s not found in the staging registry (%d)", ref, te.StatusCode)
	case te.StatusCode == http.StatusUnauthorized || te.StatusCode == http.StatusForbidden:
		secret := credsFrom
		if secret == "" {
			secret = cfg.DockerConfigSecret + " (none given: the repository needs credentials; create that Secret with a .dockerconfigjson, or name yours in registry_secret)"
		}
		return failure.New(failure.Unauthorized, map[string]string{
			"service": "the registry " + strings.SplitN(ref, "/", 2)[0], "secret": secret, "permission": "pull access to " + ref,
		}, "registry refused %s: %d %s", ref, te.StatusCode, http.StatusText(te.StatusCode))
	}
	return fmt.Errorf("checking %s: %w", ref, err)
}

func hasCode(te *transport.Error, codes ...transport.ErrorCode) bool {
	for _, d := range te.Errors {
		for _, c := range codes {
			if d.Code == c {
				return true
			}
		}
	}
	return false
}
