package vulnerabilities

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Scan statuses of Quay's security endpoint (endpoints/api/secscan.py, SecurityScanStatus).
const (
	StatusScanned       = "scanned"
	StatusQueued        = "queued"
	StatusFailed        = "failed"
	StatusUnsupported   = "unsupported"
	StatusLayerTooLarge = "manifest_layer_too_large"
)

// SecurityReport is the part of Quay's GET …/manifest/{digest}/security?vulnerabilities=true
// reply the gate reads: {"status": …, "data": {"Layer": {"Features": [{…, "Vulnerabilities": […]}]}}}.
// data is null unless the status is "scanned".
type SecurityReport struct {
	Status string        `json:"status"`
	Data   *SecurityData `json:"data"`
}

// SecurityData is Quay's SecurityInformation.
type SecurityData struct {
	Layer *Layer `json:"Layer"`
}

// Layer holds the packages found in the image.
type Layer struct {
	Name          string    `json:"Name"`
	NamespaceName string    `json:"NamespaceName"`
	Features      []Feature `json:"Features"`
}

// Feature is one package and its vulnerabilities.
type Feature struct {
	Name            string          `json:"Name"`
	Version         string          `json:"Version"`
	Vulnerabilities []Vulnerability `json:"Vulnerabilities"`
}

// Vulnerability is one advisory affecting a feature. FixedBy is empty when no fix exists.
type Vulnerability struct {
	Name     string `json:"Name"`
	Severity string `json:"Severity"`
	FixedBy  string `json:"FixedBy"`
	Link     string `json:"Link"`
}

// errBadReply marks a reply that is not Quay's security JSON.
var errBadReply = errors.New("not a Quay security report")

// DecodeSecurityReport parses a reply body. It refuses anything that is not the report: not
// JSON, an unknown status, or "scanned" without data, so that the gate never counts an empty
// or foreign reply as a clean image.
func DecodeSecurityReport(body []byte) (*SecurityReport, error) {
	var r SecurityReport
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("%w: %w", errBadReply, err)
	}
	switch r.Status {
	case StatusScanned:
		if r.Data == nil || r.Data.Layer == nil {
			return nil, fmt.Errorf("%w: status scanned without data.Layer", errBadReply)
		}
	case StatusQueued, StatusFailed, StatusUnsupported, StatusLayerTooLarge:
	case "":
		return nil, fmt.Errorf("%w: no status field", errBadReply)
	default:
		return nil, fmt.Errorf("%w: unknown status %.40q", errBadReply, r.Status)
	}
	return &r, nil
}

// Severity is a normalized severity, most severe first.
type Severity int

// The severities of Konflux's SCAN_OUTPUT.
const (
	Critical Severity = iota
	High
	Medium
	Low
	Unknown
)

var severityNames = [...]string{"critical", "high", "medium", "low", "unknown"}

func (s Severity) String() string { return severityNames[s] }

// ParseSeverity maps Clair's severities (Critical, High, Medium, Low, Negligible, Unknown;
// Defcon1 from Clair v2) to the five of SCAN_OUTPUT. Negligible and anything unrecognised
// count as unknown, as Konflux's clair-scan does.
func ParseSeverity(s string) Severity {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "critical", "defcon1":
		return Critical
	case "high", "important":
		return High
	case "medium", "moderate":
		return Medium
	case "low":
		return Low
	}
	return Unknown
}

// Counts holds one number per severity.
type Counts [5]int

// MarshalJSON writes the counts in SCAN_OUTPUT's order and names.
func (c Counts) MarshalJSON() ([]byte, error) {
	return fmt.Appendf(nil, `{"critical":%d,"high":%d,"medium":%d,"low":%d,"unknown":%d}`, c[0], c[1], c[2], c[3], c[4]), nil
}

// Total is the sum over severities.
func (c Counts) Total() int { return c[0] + c[1] + c[2] + c[3] + c[4] }

// String is "critical 1, high 2, medium 0, low 3, unknown 0".
func (c Counts) String() string {
	parts := make([]string, len(c))
	for i, n := range c {
		parts[i] = fmt.Sprintf("%s %d", Severity(i), n)
	}
	return strings.Join(parts, ", ")
}

// Tally is what SCAN_OUTPUT reports: every vulnerability, and those without a fix.
type Tally struct {
	All       Counts `json:"vulnerabilities"`
	Unpatched Counts `json:"unpatched_vulnerabilities"`
}

// ScanOutput renders t as Konflux clair-scan's SCAN_OUTPUT: compact JSON, no newline.
func (t Tally) ScanOutput() string {
	b, _ := json.Marshal(t) // Counts always marshals
	return string(b)
}

// Max is the per-severity maximum of t and o: the tally of a multi-arch image is, for each
// severity, that of its worst platform.
func (t Tally) Max(o Tally) Tally {
	for i := range t.All {
		t.All[i] = max(t.All[i], o.All[i])
		t.Unpatched[i] = max(t.Unpatched[i], o.Unpatched[i])
	}
	return t
}

// Finding is one vulnerability of one package version, possibly on several platforms.
type Finding struct {
	CVE       string
	Severity  Severity
	Package   string
	Version   string
	FixedBy   string
	Link      string
	Platforms []string
}

// Fixable says whether a fixed version exists.
func (f Finding) Fixable() bool { return f.FixedBy != "" }

type findingKey struct{ cve, pkg, version string }

// Findings deduplicates a report's vulnerabilities by (CVE, package, version): Clair may list the
// same advisory for a package more than once (several updaters); the worst severity and any fix
// win.
func (r *SecurityReport) Findings(platform string) []Finding {
	if r == nil || r.Data == nil || r.Data.Layer == nil {
		return nil
	}
	idx := map[findingKey]int{}
	var out []Finding
	for _, f := range r.Data.Layer.Features {
		for _, v := range f.Vulnerabilities {
			k := findingKey{v.Name, f.Name, f.Version}
			sev := ParseSeverity(v.Severity)
			if i, ok := idx[k]; ok {
				out[i].Severity = min(out[i].Severity, sev)
				if out[i].FixedBy == "" {
					out[i].FixedBy = strings.TrimSpace(v.FixedBy)
				}
				continue
			}
			idx[k] = len(out)
			fd := Finding{CVE: v.Name, Severity: sev, Package: f.Name, Version: f.Version,
				FixedBy: strings.TrimSpace(v.FixedBy), Link: firstLink(v.Link)}
			if platform != "" {
				fd.Platforms = []string{platform}
			}
			out = append(out, fd)
		}
	}
	return out
}

// TallyOf counts findings by severity and fixability.
func TallyOf(fs []Finding) Tally {
	var t Tally
	for _, f := range fs {
		t.All[f.Severity]++
		if !f.Fixable() {
			t.Unpatched[f.Severity]++
		}
	}
	return t
}

// MergeFindings joins the findings of several platforms, one entry per (CVE, package, version)
// listing the platforms it was found on, sorted worst first: by severity, fixable before
// unpatched (those can be fixed now), then by CVE and package.
func MergeFindings(lists ...[]Finding) []Finding {
	idx := map[findingKey]int{}
	var out []Finding
	for _, l := range lists {
		for _, f := range l {
			k := findingKey{f.CVE, f.Package, f.Version}
			if i, ok := idx[k]; ok {
				out[i].Severity = min(out[i].Severity, f.Severity)
				if out[i].FixedBy == "" {
					out[i].FixedBy = f.FixedBy
				}
				out[i].Platforms = append(out[i].Platforms, f.Platforms...)
				continue
			}
			idx[k] = len(out)
			f.Platforms = append([]string(nil), f.Platforms...)
			out = append(out, f)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Severity != b.Severity {
			return a.Severity < b.Severity
		}
		if a.Fixable() != b.Fixable() {
			return a.Fixable()
		}
		if a.CVE != b.CVE {
			return a.CVE < b.CVE
		}
		return a.Package < b.Package
	})
	return out
}

// firstLink keeps the first URL: Quay joins several advisories' links with spaces.
func firstLink(s string) string {
	if f := strings.Fields(s); len(f) > 0 {
		return f[0]
	}
	return ""
}
