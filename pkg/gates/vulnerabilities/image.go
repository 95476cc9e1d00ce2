package vulnerabilities

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/release-to-prod/release-to-prod/pkg/clients/httpclient"
	"github.com/release-to-prod/release-to-prod/pkg/step"
	"github.com/release-to-prod/release-to-prod/pkg/step/failure"
)

// Image is the image the gate scans: a Quay repository and a pinned digest.
type Image struct {
	Host       string // registry host, e.g. quay.io
	Repository string // path after the host, e.g. redhat-user-workloads/ns/app/comp (may be nested)
	Digest     string // sha256:…
}

// String is host/repository@digest.
func (i Image) String() string { return i.Host + "/" + i.Repository + "@" + i.Digest }

// Ref is host/repository, the key of a docker config.json entry.
func (i Image) Ref() string { return i.Host + "/" + i.Repository }

var (
	digestRE    = regexp.MustCompile(`^(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$`)
	componentRE = regexp.MustCompile(`^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$`)
)

// ParseDigest checks a manifest digest (sha256:<64 hex>).
func ParseDigest(d string) (string, error) {
	d = strings.TrimSpace(d)
	if !digestRE.MatchString(d) {
		return "", failure.New(failure.InvalidInput, nil, "digest %.80q is not sha256:<64 lowercase hex>", d)
	}
	return d, nil
}

// ParseImage splits imageURL (host/path, as the image gate's STAGING_IMAGE; a tag is dropped, a
// digest must agree with digest) into the Quay repository and checks both.
func ParseImage(imageURL, digest string) (Image, error) {
	ref := strings.TrimSpace(imageURL)
	if ref == "" {
		return Image{}, failure.New(failure.InvalidInput, nil, "staging_image (STAGING_IMAGE) is empty: no image to scan (in the pipeline: the image gate pinned none, see its failure above)")
	}
	if strings.Contains(ref, "://") {
		return Image{}, failure.New(failure.InvalidInput, nil, "staging_image %.200q has a scheme: give host/path, e.g. quay.io/ns/repo", ref)
	}
	digest = strings.TrimSpace(digest)
	if r, d, ok := strings.Cut(ref, "@"); ok {
		if digest != "" && d != digest {
			return Image{}, failure.New(failure.InvalidInput, nil, "staging_image %.200q names digest %s, but pinned_digest is %.80s", ref, d, digest)
		}
		ref, digest = r, d
	}
	if digest == "" {
		return Image{}, failure.New(failure.InvalidInput, nil, "pinned_digest (PINNED_DIGEST) is empty: no image to scan (in the pipeline: the image gate pinned none, see its failure above)")
	}
	d, err := ParseDigest(digest)
	if err != nil {
		return Image{}, fmt.Errorf("pinned_digest: %w", err)
	}
	host, path, ok := strings.Cut(ref, "/")
	if !ok || !(strings.ContainsAny(host, ".:") || host == "localhost") {
		return Image{}, failure.New(failure.InvalidInput, nil, "staging_image %.200q does not start with a registry host: give host/namespace/repository, e.g. quay.io/ns/repo", ref)
	}
	// A tag is only allowed on the last component (a colon before a slash is the host's port).
	if i := strings.LastIndex(path, ":"); i >= 0 && !strings.Contains(path[i:], "/") {
		path = path[:i]
	}
	parts := strings.Split(path, "/")
	if len(parts) < 2 {
		return Image{}, failure.New(failure.InvalidInput, nil, "staging_image %.200q has no namespace: a Quay repository is host/namespace/repository", ref)
	}
	for _, p := range parts {
		if !componentRE.MatchString(p) {
			return Image{}, failure.New(failure.InvalidInput, nil, "staging_image %.200q: path component %.80q is not a valid repository name (lowercase letters, digits, . _ -)", ref, p)
		}
	}
	return Image{Host: host, Repository: path, Digest: d}, nil
}

// Platform is one image of a multi-arch index.
type Platform struct {
	Name   string // os/arch[/variant]
	Digest string
}

// ParsePlatforms reads the image gate's PLATFORM_DIGESTS: "os/arch=sha256:…" pairs separated by
// commas. A digest listed twice is scanned once.
func ParsePlatforms(s string) ([]Platform, error) {
	var out []Platform
	seen := map[string]bool{}
	for _, p := range step.Pairs(s) {
		if !p.OK {
			return nil, failure.New(failure.InvalidInput, nil, "platform_digests: %.120q is not os/arch=sha256:…", p.Item)
		}
		d, err := ParseDigest(p.Value)
		if err != nil {
			return nil, fmt.Errorf("platform_digests: %s: %w", p.Name, err)
		}
		if seen[d] {
			continue
		}
		seen[d] = true
		out = append(out, Platform{Name: p.Name, Digest: d})
	}
	return out, nil
}

// APIBase checks Quay's base URL: https, or http on loopback only (credentials and the verdict
// must not travel in clear text).
func APIBase(raw string) (string, error) {
	raw = strings.TrimSpace(raw)
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return "", failure.New(failure.InvalidInput, nil, "quay_api_url %q is not an http(s) URL like https://quay.io", httpclient.Redact(raw))
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", failure.New(failure.InvalidInput, nil, "quay_api_url %q must be a plain base URL (no credentials, query or fragment)", httpclient.Redact(raw))
	}
	if u.Scheme == "http" && !httpclient.IsLoopback(u.Host) {
		return "", failure.New(failure.InvalidInput, nil, "quay_api_url %s is plain http: only loopback hosts may use http; use https", httpclient.Redact(raw))
	}
	return strings.TrimRight(u.String(), "/"), nil
}
