package failure

// Known failures of the app-interface (SaaS file) gate.
const (
	SaasInvalid        ID = "saas-invalid"
	SaasRefMismatch    ID = "saas-ref-mismatch"
	SaasBlockedVersion ID = "saas-blocked-version"
)

func init() {
	for _, e := range []Entry{
		{ID: SaasInvalid, Title: "SaaS file invalid",
			Cause:    "{count} problem(s) in the SaaS file {saas_file} or the app-interface files it references (each listed above with file and line)",
			Fix:      "fix every ✗ line above in app-interface, merge the MR, refresh the checkout and re-run",
			Defaults: map[string]string{"count": "some", "saas_file": "given"}},
		{ID: SaasRefMismatch, Title: "production target not at this commit",
			Cause:    "the SaaS file {saas_file} deploys ref {got} to the production target {target}, not this commit {want}: the app-interface MR promoting this commit is not merged, or the checkout is stale",
			Fix:      "merge the app-interface MR that sets ref: {want} on {target} (or set TARGET to the right target), refresh the checkout and re-run",
			Defaults: map[string]string{"saas_file": "given", "got": "another commit", "target": "?", "want": "?"}},
		{ID: SaasBlockedVersion, Title: "commit blocked in app-interface",
			Cause:    "commit {sha} is listed in codeComponents[].blockedVersions of {app_file}: someone blocked it from being promoted",
			Fix:      "release a newer commit that fixes the reason for the block, or remove the SHA from blockedVersions in app-interface if the block no longer applies",
			Defaults: map[string]string{"sha": "this commit", "app_file": "the app file"}},
	} {
		register(e)
	}
}
