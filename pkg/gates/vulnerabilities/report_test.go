package vulnerabilities

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/release-to-prod/release-to-prod/test/sandbox"
)

func TestDecodeSecurityReport(t *testing.T) {
	scanned := sandbox.QuayScanned(sandbox.QuayFeature{Name: "openssl", Version: "3.0.7-1", Vulnerabilities: []sandbox.QuayVulnerability{
		{Name: "CVE-2024-0001", Severity: "Critical", FixedBy: "3.0.7-2", Link: "https://access.redhat.com/security/cve/CVE-2024-0001 https://nvd.nist.gov/x"}}}).Body
	tests := []struct {
		name, body, status, err string
	}{
		{name: "scanned", body: scanned, status: StatusScanned},
		{name: "scanned without features", body: `{"status":"scanned","data":{"Layer":{"Name":"x","Features":[]}}}`, status: StatusScanned},
		{name: "queued", body: sandbox.QuayStatus("queued").Body, status: StatusQueued},
		{name: "unsupported", body: `{"status":"unsupported","data":null}`, status: StatusUnsupported},
		{name: "failed", body: `{"status":"failed","data":null}`, status: StatusFailed},
		{name: "layer too large", body: `{"status":"manifest_layer_too_large","data":null}`, status: StatusLayerTooLarge},
		{name: "null strings", body: `{"status":"scanned","data":{"Layer":{"Features":[{"Name":"a","Version":null,"Vulnerabilities":[{"Name":"CVE-1","Severity":null,"FixedBy":null,"Link":null}]}]}}}`, status: StatusScanned},
		{name: "scanned without data", body: `{"status":"scanned","data":null}`, err: "status scanned without data.Layer"},
		{name: "scanned without layer", body: `{"status":"scanned","data":{}}`, err: "status scanned without data.Layer"},
		{name: "unknown status", body: `{"status":"done"}`, err: `unknown status "done"`},
		{name: "no status", body: `{"data":null}`, err: "no status field"},
		{name: "html login page", body: `<html><body>Sign in</body></html>`, err: "not a Quay security report"},
		{name: "truncated", body: scanned[:len(scanned)/2], err: "not a Quay security report"},
		{name: "features not a list", body: `{"status":"scanned","data":{"Layer":{"Features":{}}}}`, err: "not a Quay security report"},
		{name: "empty", body: ``, err: "not a Quay security report"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := DecodeSecurityReport([]byte(tt.body))
			if tt.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.status, r.Status)
		})
	}
}

func FuzzDecodeSecurityReport(f *testing.F) {
	f.Add([]byte(sandbox.QuayScanned(sandbox.QuayFeature{Name: "curl", Version: "7.76", Vulnerabilities: []sandbox.QuayVulnerability{
		{Name: "CVE-2023-1", Severity: "High"}, {Name: "CVE-2023-2", Severity: "Negligible", FixedBy: "7.77"}}}).Body))
	f.Add([]byte(`{"status":"queued","data":null}`))
	f.Add([]byte(`{"status":"scanned","data":{"Layer":{"Features":[{"Vulnerabilities":[{}]}]}}}`))
	f.Add([]byte(`{"status":"scanned","data":{"Layer":null}}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := DecodeSecurityReport(b)
		if err != nil {
			return
		}
		// Whatever decodes can be counted and printed without panicking, and the counts agree.
		fs := r.Findings("linux/amd64")
		tally := TallyOf(fs)
		if tally.All.Total() != len(fs) {
			t.Fatalf("tally %v of %d findings", tally, len(fs))
		}
		for _, f := range MergeFindings(fs) {
			_ = findingLine(f, 2)
		}
		_ = tally.ScanOutput()
	})
}

func TestParseSeverity(t *testing.T) {
	for in, want := range map[string]Severity{
		"Critical": Critical, "CRITICAL": Critical, "Defcon1": Critical, "High": High, "Important": High,
		"Medium": Medium, "Moderate": Medium, "Low": Low, " low ": Low,
		"Negligible": Unknown, "Unknown": Unknown, "": Unknown, "whatever": Unknown,
	} {
		assert.Equal(t, want, ParseSeverity(in), in)
	}
}

func TestFindingsAndTally(t *testing.T) {
	body := sandbox.QuayScanned(
		sandbox.QuayFeature{Name: "openssl", Version: "3.0.7-1", Vulnerabilities: []sandbox.QuayVulnerability{
			{Name: "CVE-1", Severity: "Critical", FixedBy: "3.0.7-2"},
			// the same advisory again from another updater: counted once, worst severity wins
			{Name: "CVE-1", Severity: "High"},
			{Name: "CVE-2", Severity: "High"},
		}},
		sandbox.QuayFeature{Name: "zlib", Version: "1.2", Vulnerabilities: []sandbox.QuayVulnerability{
			{Name: "CVE-2", Severity: "Medium", FixedBy: "1.3"}, // same CVE, other package: counted
			{Name: "CVE-3", Severity: "Low"},
			{Name: "CVE-4", Severity: "Negligible"},
			{Name: "CVE-5", Severity: "Unknown", FixedBy: "1.3"},
		}},
		sandbox.QuayFeature{Name: "bash", Version: "5.1"},
	).Body
	r, err := DecodeSecurityReport([]byte(body))
	require.NoError(t, err)
	fs := r.Findings("")
	require.Len(t, fs, 6)
	tally := TallyOf(fs)
	assert.Equal(t, Counts{1, 1, 1, 1, 2}, tally.All)
	assert.Equal(t, Counts{0, 1, 0, 1, 1}, tally.Unpatched)
	assert.Equal(t, `{"vulnerabilities":{"critical":1,"high":1,"medium":1,"low":1,"unknown":2},"unpatched_vulnerabilities":{"critical":0,"high":1,"medium":0,"low":1,"unknown":1}}`, tally.ScanOutput())
	assert.Equal(t, "critical 1, high 1, medium 1, low 1, unknown 2", tally.All.String())
}

func TestMergeFindings(t *testing.T) {
	amd := []Finding{
		{CVE: "CVE-9", Severity: High, Package: "curl", Version: "1", Platforms: []string{"linux/amd64"}},
		{CVE: "CVE-8", Severity: High, Package: "curl", Version: "1", FixedBy: "2", Platforms: []string{"linux/amd64"}},
		{CVE: "CVE-7", Severity: Low, Package: "zlib", Version: "1", Platforms: []string{"linux/amd64"}},
	}
	arm := []Finding{
		{CVE: "CVE-9", Severity: High, Package: "curl", Version: "1", Platforms: []string{"linux/arm64"}},
		{CVE: "CVE-1", Severity: Critical, Package: "glibc", Version: "2", Platforms: []string{"linux/arm64"}},
		{CVE: "CVE-0", Severity: High, Package: "curl", Version: "1", Platforms: []string{"linux/arm64"}},
	}
	got := MergeFindings(amd, arm)
	var order []string
	for _, f := range got {
		order = append(order, f.CVE+"@"+strings.Join(f.Platforms, "+"))
	}
	// severity first, then fixable before unpatched, then CVE
	assert.Equal(t, []string{"CVE-1@linux/arm64", "CVE-8@linux/amd64", "CVE-0@linux/arm64", "CVE-9@linux/amd64+linux/arm64", "CVE-7@linux/amd64"}, order)
	assert.Equal(t, []string{"linux/amd64"}, amd[0].Platforms, "inputs are not modified")

	tally := TallyOf(amd).Max(TallyOf(arm))
	assert.Equal(t, Counts{1, 2, 0, 1, 0}, tally.All)
}

func TestParseImage(t *testing.T) {
	d := "sha256:" + strings.Repeat("a", 64)
	tests := []struct {
		name, url, digest string
		want              Image
		err               string
	}{
		{name: "konflux", url: "quay.io/redhat-user-workloads/ns/app/comp", digest: d, want: Image{"quay.io", "redhat-user-workloads/ns/app/comp", d}},
		{name: "tag dropped", url: "quay.io/ns/repo:abc", digest: d, want: Image{"quay.io", "ns/repo", d}},
		{name: "digest in url", url: "quay.io/ns/repo@" + d, want: Image{"quay.io", "ns/repo", d}},
		{name: "same digest twice", url: "quay.io/ns/repo@" + d, digest: d, want: Image{"quay.io", "ns/repo", d}},
		{name: "port", url: "127.0.0.1:5000/ns/repo", digest: " " + d + " ", want: Image{"127.0.0.1:5000", "ns/repo", d}},
		{name: "localhost", url: "localhost/ns/repo", digest: d, want: Image{"localhost", "ns/repo", d}},
		{name: "other digest in url", url: "quay.io/ns/repo@sha256:" + strings.Repeat("b", 64), digest: d, err: "names digest"},
		{name: "empty", url: " ", digest: d, err: "staging_image (STAGING_IMAGE) is empty"},
		{name: "no digest", url: "quay.io/ns/repo", err: "pinned_digest (PINNED_DIGEST) is empty"},
		{name: "bad digest", url: "quay.io/ns/repo", digest: "sha256:abc", err: "is not sha256:<64 lowercase hex>"},
		{name: "upper-case digest", url: "quay.io/ns/repo", digest: "sha256:" + strings.Repeat("A", 64), err: "is not sha256"},
		{name: "scheme", url: "https://quay.io/ns/repo", digest: d, err: "has a scheme"},
		{name: "no host", url: "ns/repo", digest: d, err: "does not start with a registry host"},
		{name: "no namespace", url: "quay.io/repo", digest: d, err: "has no namespace"},
		{name: "upper case", url: "quay.io/NS/repo", digest: d, err: `path component "NS"`},
		{name: "traversal", url: "quay.io/ns/../repo", digest: d, err: `path component ".."`},
		{name: "query", url: "quay.io/ns/repo?x=1", digest: d, err: "path component"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseImage(tt.url, tt.digest)
			if tt.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.err)
				assertID(t, "invalid-input", err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestParsePlatforms(t *testing.T) {
	a, b := "sha256:"+strings.Repeat("a", 64), "sha256:"+strings.Repeat("b", 64)
	got, err := ParsePlatforms(" linux/amd64=" + a + ", linux/arm64=" + b + ",linux/arm64/v8=" + b + ",")
	require.NoError(t, err)
	assert.Equal(t, []Platform{{"linux/amd64", a}, {"linux/arm64", b}}, got)
	got, err = ParsePlatforms("")
	require.NoError(t, err)
	assert.Empty(t, got)
	for _, bad := range []string{"linux/amd64", "=" + a, "linux/amd64=sha256:zz", "linux/amd64:" + a} {
		_, err := ParsePlatforms(bad)
		require.Error(t, err, bad)
		assertID(t, "invalid-input", err)
	}
}

func TestAPIBase(t *testing.T) {
	for in, want := range map[string]string{
		"https://quay.io":               "https://quay.io",
		"https://quay.example.com/":     "https://quay.example.com",
		"http://127.0.0.1:8080":         "http://127.0.0.1:8080",
		"http://localhost:8080/prefix/": "http://localhost:8080/prefix",
		"http://[::1]:8080":             "http://[::1]:8080",
	} {
		got, err := APIBase(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got)
	}
	for in, msg := range map[string]string{
		"http://quay.io":                "plain http",
		"quay.io":                       "not an http(s) URL",
		"ftp://quay.io":                 "not an http(s) URL",
		"https://user:pw@quay.io":       "plain base URL",
		"https://quay.io/?token=sekrit": "plain base URL",
	} {
		_, err := APIBase(in)
		require.Error(t, err, in)
		assert.Contains(t, err.Error(), msg)
		assert.NotContains(t, err.Error(), "sekrit")
		assert.NotContains(t, err.Error(), "pw")
	}
}
