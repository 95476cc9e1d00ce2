package sandbox

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
)

// QuayStub stands in for the two Quay API endpoints the project calls, on the same loopback
// server as the registry. Each test sets the replies; shapes follow Quay's documented JSON.
type QuayStub struct {
	mu       sync.Mutex
	security map[string][]Reply // key: "ns/repo@digest"
	calls    map[string]int
}

// Reply is one canned HTTP answer.
type Reply struct {
	Status int
	Body   string
	Header map[string]string
}

// NewQuayStub returns an empty stub: every security request is answered 404 until set.
func NewQuayStub() *QuayStub {
	return &QuayStub{security: map[string][]Reply{}, calls: map[string]int{}}
}

// SetSecurity sets the replies for GET /api/v1/repository/{repo}/manifest/{digest}/security:
// the n-th call gets replies[n], the last one repeats.
func (q *QuayStub) SetSecurity(repo, digest string, replies ...Reply) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.security[repo+"@"+digest] = replies
}

// Calls returns how many security requests were made for repo@digest.
func (q *QuayStub) Calls(repo, digest string) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.calls[repo+"@"+digest]
}

func (q *QuayStub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rest, ok := strings.CutPrefix(r.URL.Path, "/api/v1/repository/")
	repo, digest, ok2 := strings.Cut(rest, "/manifest/")
	digest, ok3 := strings.CutSuffix(digest, "/security")
	if !ok || !ok2 || !ok3 || r.Method != http.MethodGet {
		http.Error(w, `{"error_message":"not found"}`, http.StatusNotFound)
		return
	}
	key := repo + "@" + digest
	q.mu.Lock()
	n := q.calls[key]
	q.calls[key] = n + 1
	replies := q.security[key]
	q.mu.Unlock()
	if len(replies) == 0 {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprint(w, `{"detail":"Not Found","error_message":"Not Found","status":404,"title":"not_found","type":"https://quay.io/api/v1/error/not_found"}`)
		return
	}
	rep := replies[min(n, len(replies)-1)]
	for k, v := range rep.Header {
		w.Header().Set(k, v)
	}
	if w.Header().Get("Content-Type") == "" {
		w.Header().Set("Content-Type", "application/json")
	}
	w.WriteHeader(rep.Status)
	fmt.Fprint(w, rep.Body)
}

// QuayVulnerability is one entry of a feature's Vulnerabilities in Quay's security reply.
type QuayVulnerability struct {
	Name     string // CVE-…
	Severity string // Critical, High, Medium, Low, Negligible, Unknown
	FixedBy  string // empty: no fix yet
	Link     string
}

// QuayFeature is one package of Quay's security reply.
type QuayFeature struct {
	Name, Version   string
	Vulnerabilities []QuayVulnerability
}

// QuayScanned is a 200 reply with status "scanned" and the features, in the shape of Quay's
// GET …/manifest/{digest}/security?vulnerabilities=true (SecurityInformation.to_dict).
func QuayScanned(features ...QuayFeature) Reply {
	fs := make([]map[string]any, 0, len(features))
	for _, f := range features {
		vs := make([]map[string]any, 0, len(f.Vulnerabilities))
		cves := []string{}
		for _, v := range f.Vulnerabilities {
			vs = append(vs, map[string]any{
				"Severity": v.Severity, "NamespaceName": "rhel-9", "Link": v.Link, "FixedBy": v.FixedBy,
				"Description": "description of " + v.Name, "Name": v.Name,
				"Metadata": map[string]any{"UpdatedBy": "RHEL9-rhel-9", "RepoName": "cpe:/o:redhat:enterprise_linux:9::baseos",
					"RepoLink": nil, "DistroName": "Red Hat Enterprise Linux Server", "DistroVersion": "9",
					"NVD": map[string]any{"CVSSv3": map[string]any{"Vectors": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "Score": 9.8}}},
			})
			cves = append(cves, v.Name)
		}
		fs = append(fs, map[string]any{"Name": f.Name, "VersionFormat": "", "NamespaceName": "", "AddedBy": "sha256:0000000000000000000000000000000000000000000000000000000000000001",
			"Version": f.Version, "BaseScores": []float64{}, "CVEIds": cves, "Vulnerabilities": vs})
	}
	b, err := json.Marshal(map[string]any{"status": "scanned", "data": map[string]any{"Layer": map[string]any{
		"Name": "sha256:0000000000000000000000000000000000000000000000000000000000000002", "ParentName": "",
		"NamespaceName": "", "IndexedByVersion": 4, "Features": fs}}})
	if err != nil { // maps of strings and numbers always marshal
		panic(err)
	}
	return Reply{Status: http.StatusOK, Body: string(b)}
}

// QuayStatus is a 200 reply with a status and no data, as Quay answers for "queued", "failed",
// "unsupported" (a manifest list) and "manifest_layer_too_large".
func QuayStatus(status string) Reply {
	return Reply{Status: http.StatusOK, Body: fmt.Sprintf(`{"status": %q, "data": null}`, status)}
}

// LargeQuayReport is a Quay security report as large as a big image's: 1,000 packages with 4
// vulnerabilities each, none critical, about 1.5 MB of JSON. The memory measurements decode it.
func LargeQuayReport() Reply {
	big := make([]QuayFeature, 1000)
	for i := range big {
		big[i] = QuayFeature{Name: fmt.Sprintf("package-%d", i), Version: "1.2.3-4.el9"}
		for j := range 4 {
			big[i].Vulnerabilities = append(big[i].Vulnerabilities, QuayVulnerability{
				Name: fmt.Sprintf("CVE-2025-%05d", i*4+j), Severity: []string{"Low", "Medium", "Negligible", "Unknown"}[j],
				Link: "https://access.redhat.com/security/cve/" + strings.Repeat("x", 160)})
		}
	}
	return QuayScanned(big...)
}
