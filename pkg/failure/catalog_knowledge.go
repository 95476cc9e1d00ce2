package failure

// Known failures of the team knowledge store (pkg/knowledge, check-known-issues).
const (
	KnownIssueBlocks ID = "known-issue-blocks"
)

func init() {
	register(Entry{ID: KnownIssueBlocks, Title: "blocking known issue",
		Cause:    "the team marked a known issue as blocking releases: {issues}",
		Fix:      "wait until it is resolved; then remove the entry, or set blocks: false on it, in the team knowledge store (kubectl edit configmap {configmap} -n {namespace}) and re-run",
		Defaults: map[string]string{"issues": "see the list above", "configmap": "release-knowledge", "namespace": "<namespace>"}})
}
