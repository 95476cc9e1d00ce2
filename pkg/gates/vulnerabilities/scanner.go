package vulnerabilities

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/release-to-prod/release-to-prod/pkg/clients/httpclient"
	"github.com/release-to-prod/release-to-prod/pkg/step/failure"
)

// Scanner reads manifest security reports from Quay's API.
type Scanner struct {
	Base   string // e.g. https://quay.io, no trailing slash
	Client *httpclient.Client
	// Secret says where the credentials came from ("bound to workspace quay-token …"), for the
	// advice on 401/403/404; never the secret itself.
	Secret string
}

// SecurityURL is the endpoint of one manifest's report. Repository paths may be nested
// (ns/app/comp): Quay's route takes the whole path, so slashes stay unescaped; ParseImage has
// already restricted the characters.
func (sc *Scanner) SecurityURL(repository, digest string) string {
	return sc.Base + "/api/v1/repository/" + repository + "/manifest/" + digest + "/security?vulnerabilities=true"
}

// Report fetches the security report of repository@digest. Statuses other than 200 become
// known failures: 404 the manifest is not there (or not visible), 401/403 the credentials,
// 429/5xx after the client's retries the service.
func (sc *Scanner) Report(ctx context.Context, img Image, digest string) (*SecurityReport, error) {
	u := sc.SecurityURL(img.Repository, digest)
	resp, err := sc.Client.Do(ctx, http.MethodGet, u, http.Header{"Accept": {"application/json"}}, nil)
	if err != nil {
		return nil, fmt.Errorf("reading Quay's scan of %s/%s@%s: %w", img.Host, img.Repository, digest, err)
	}
	switch resp.Code {
	case http.StatusOK:
		rep, err := DecodeSecurityReport(resp.Body)
		if err != nil {
			detail := err.Error()
			if ct := resp.Header.Get("Content-Type"); ct != "" && !strings.Contains(ct, "json") {
				detail = "Content-Type " + ct
			}
			return nil, failure.Wrap(failure.ScanBadReply, map[string]string{"url": httpclient.Redact(u), "detail": detail},
				fmt.Errorf("reading Quay's scan of %s/%s@%s: %w", img.Host, img.Repository, digest, err))
		}
		return rep, nil
	case http.StatusNotFound:
		return nil, failure.Wrap(failure.ScanNotFound, map[string]string{"digest": digest, "repository": img.Host + "/" + img.Repository, "secret": sc.Secret},
			fmt.Errorf("manifest %s not found in Quay repository %s: %w", digest, img.Repository, sc.Client.StatusError(http.MethodGet, u, resp)))
	case http.StatusUnauthorized, http.StatusForbidden:
		return nil, failure.Wrap(failure.Unauthorized, map[string]string{
			"service":    "Quay (" + hostOf(sc.Base) + ")",
			"secret":     sc.Secret,
			"permission": "read access to " + img.Host + "/" + img.Repository + " (a robot account with read permission, or an OAuth token with the repo:read scope)",
		}, sc.Client.StatusError(http.MethodGet, u, resp))
	}
	return nil, sc.Client.StatusError(http.MethodGet, u, resp)
}

func hostOf(base string) string {
	_, rest, ok := strings.Cut(base, "://")
	if !ok {
		return base
	}
	h, _, _ := strings.Cut(rest, "/")
	return h
}
