package failure

// Known failures of the team knowledge store (pkg/knowledge, check-known-issues).
const (
	KnownIssueBlocks      ID = "known-issue-blocks"
	KnownIssuesUnreadable ID = "known-issues-unreadable"
)

func init() {
	register(Entry{ID: KnownIssueBlocks, Title: "blocking known issue",
		Cause:    "the team marked a known issue as blocking releases: {issues}",
		Fix:      "wait until it is resolved; then remove the entry, or set blocks: false on it, in the team knowledge store (kubectl edit configmap {configmap} -n {namespace}) and re-run",
		Defaults: map[string]string{"issues": "see the list above", "configmap": "release-knowledge", "namespace": "<namespace>"}})
	// Fail closed: what cannot be read may be a release freeze.
	register(Entry{ID: KnownIssuesUnreadable, Title: "known issues cannot be read",
		Cause:    "the team knowledge store holds known issues that cannot be read, and any of them may block releases: {entries}",
		Fix:      "correct the entries named in the team knowledge store (kubectl edit configmap {configmap} -n {namespace}): quote a message that holds \": \", write blocks: true or blocks: false (nothing else), check the field names; then re-run",
		Defaults: map[string]string{"entries": "see the warnings above", "configmap": "release-knowledge", "namespace": "<namespace>"}})
}
