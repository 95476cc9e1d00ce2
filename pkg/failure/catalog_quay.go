package failure

// The vulnerability gate's known failures (pkg/quay).
const (
	CriticalVulnerabilities ID = "critical-vulnerabilities"
	ScanQueued              ID = "scan-queued"
	ScanFailed              ID = "scan-failed"
	ScanUnsupported         ID = "scan-unsupported"
	ScanNotFound            ID = "scan-not-found"
	ScanBadReply            ID = "scan-bad-reply"
)

func init() {
	register(Entry{ID: CriticalVulnerabilities, Title: "blocking vulnerabilities found",
		Cause:    "Quay's scan of {image} found {counts}: {cves}",
		Fix:      "rebuild on a patched base image or update the affected packages (the fixed-by versions are listed above), then re-run; if the risk is accepted, re-run with {param} for this run, approved by {approver}",
		Defaults: map[string]string{"image": "the image", "counts": "blocking vulnerabilities", "cves": "see the list above", "param": "fail_on_critical=false", "approver": "the product's security contact"}})
	register(Entry{ID: ScanQueued, Title: "vulnerability scan not ready",
		Cause:    "Quay has not scanned {digest} yet: the scan was still queued after {waited}",
		Fix:      "wait a few minutes and re-run (or raise poll_timeout); if it stays queued, check Quay's security scanner status (status.quay.io for quay.io)",
		Defaults: map[string]string{"digest": "the image", "waited": "the poll timeout"}})
	register(Entry{ID: ScanFailed, Title: "vulnerability scan failed",
		Cause:    "Quay could not scan {what}: status {status}",
		Fix:      "the gate fails closed without a scan: push the image again (a new digest gets a new scan) or ask the Quay admins about the security scanner; {hint}",
		Defaults: map[string]string{"what": "the image", "status": "failed", "hint": "a layer over the scanner's size limit (manifest_layer_too_large) needs a smaller image"}})
	register(Entry{ID: ScanUnsupported, Title: "image not scannable",
		Cause:    "Quay does not scan {what} (status unsupported){why}",
		Fix:      "{fix}",
		Defaults: map[string]string{"what": "the image", "why": "", "fix": "pass the per-platform digests (platform_digests, the image gate's PLATFORM_DIGESTS result) when the digest is a multi-arch index; otherwise the artifact has no scannable image layers"}})
	register(Entry{ID: ScanNotFound, Title: "manifest not found in Quay",
		Cause:    "Quay answered 404 for {digest} in repository {repository}: the manifest was not pushed there, the repository path is wrong, the credentials cannot see a private repository (Quay answers 404 then), or the security scanner is off on this Quay",
		Fix:      "check staging_image and pinned_digest (the image gate's STAGING_IMAGE and PINNED_DIGEST) and that the credentials {secret} grant read access to {repository}",
		Defaults: map[string]string{"digest": "the digest", "repository": "?", "secret": "given to the step"}})
	register(Entry{ID: ScanBadReply, Title: "unexpected reply from Quay",
		Cause:    "{url} did not answer with Quay's security report JSON ({detail}): quay_api_url points at something else (a proxy, a login page) or the API changed",
		Fix:      "set quay_api_url to the base URL of Quay (e.g. https://quay.io; the step appends /api/v1/…); the gate fails closed until the reply is readable",
		Defaults: map[string]string{"url": "Quay", "detail": "not JSON"}})
}
