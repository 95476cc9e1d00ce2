package tektongen

import (
	"fmt"

	"github.com/release-to-prod/release-to-prod/pkg/alerts"
	"github.com/release-to-prod/release-to-prod/pkg/history"
	"github.com/release-to-prod/release-to-prod/pkg/image"
	"github.com/release-to-prod/release-to-prod/pkg/input"
	"github.com/release-to-prod/release-to-prod/pkg/knownissues"
	"github.com/release-to-prod/release-to-prod/pkg/preflight"
	"github.com/release-to-prod/release-to-prod/pkg/quay"
	"github.com/release-to-prod/release-to-prod/pkg/release"
	"github.com/release-to-prod/release-to-prod/pkg/saasfile"
	"github.com/release-to-prod/release-to-prod/pkg/slack"
	"github.com/release-to-prod/release-to-prod/pkg/step"
	"github.com/release-to-prod/release-to-prod/pkg/verdict"
)

// resultDocs describes every result, once: a result passed on under the same name (record-history
// passes on the preflight's, the Pipeline the tasks') means the same thing wherever it appears.
var resultDocs = map[step.ResultName]string{
	input.ResultInvalid:             "The params that are not valid, each with why; empty when all are valid.",
	knownissues.ResultKnownIssues:   "The active known issues, one \"service: message\" line each, for the notification (bounded); empty when none.",
	image.ResultStagingImage:        "The staging repository (host/path), without tag or digest.",
	image.ResultPinnedDigest:        "Digest the commit's tag points at in the staging repository (the index digest for a multi-arch image): the image released; empty when the image gate pinned none.",
	image.ResultPlatformDigests:     "For an index, os/arch=digest pairs separated by commas; empty otherwise.",
	preflight.ResultSnapshot:        "Name of the Snapshot to release.",
	preflight.ResultReleasePlan:     "Name of the ReleasePlan to release through.",
	preflight.ResultAlreadyReleased: "\"true\" when a succeeded Release of this commit's Snapshot exists (any name, any author) or is recorded in the history, else \"false\".",
	preflight.ResultExistingRelease: "A Release of this commit's Snapshot that is still running (any name, any author): create-release waits on it instead of creating another; empty when none.",
	preflight.ResultLatestRelease:   "Name of the latest Release of the component (from the history, else this commit's), for context; empty when none.",
	alerts.ResultFiring:             "Number of firing alerts that matched (0 when clear or skipped).",
	alerts.ResultNames:              "Distinct names of the firing alerts, comma-separated, at most 512 bytes (\"…(+N more)\" when cut); \"skipped\" when skipped.",
	quay.ResultScanOutput:           "Vulnerability counts in the form of Konflux clair-scan's SCAN_OUTPUT ({\"vulnerabilities\":{\"critical\":N,…},\"unpatched_vulnerabilities\":{…}}), worst platform per severity; {\"skipped\":true} when skipped.",
	quay.ResultCriticalCount:        "Number of critical vulnerabilities (worst platform); \"skipped\" when skipped.",
	saasfile.ResultSaasFile:         "The SaaS file that was validated, relative to the checkout.",
	saasfile.ResultTargetsChecked:   "The production targets whose ref was checked, as name@namespace separated by commas (cut to 512 bytes with a \"+N more\" tail); \"skipped\" when skipped.",
	verdict.ResultGateSummary:       "The gates in one line, e.g. \"image ✓, konflux ✓, alerts ✗\"; empty when the preflight did not get that far.",
	verdict.ResultFailedGates:       "Names of the gates that failed or did not run, comma-separated; empty when all passed.",
	verdict.ResultFailureCause:      "The likely cause of what stopped the run (for gates: one \"gate: cause\" line each, cut to fit the results budget, the log has them whole); empty when nothing failed.",
	verdict.ResultFailureFix:        "The fix for what stopped the run (for gates: one \"gate: fix\" line each, cut to fit the results budget, the log has them whole); empty when nothing failed.",
	verdict.ResultUnknownFailures:   "The failures no catalog entry or learned fix explained, with their fingerprints (bounded JSON), for the history and tkn-local failures list; empty when none.",
	release.ResultReleaseName:       "The Release created or found for the commit (in a dry run: the one that would be created); empty when none.",
	release.ResultReleaseStatus:     "How the release ended: Succeeded, Failed, TimedOut, DryRun, AlreadyReleased or Created (wait \"false\"); record-history also says Blocked, Rejected or Running.",
	history.ResultHistoryEntries:    "Number of entries in the history after this one was added.",
	slack.ResultNotified:            "\"true\" when Slack took the message, \"false\" when it could not be sent, \"skipped\" when no webhook was bound.",
}

// describe returns the description of result r.
func describe(r step.ResultName) (string, error) {
	d, ok := resultDocs[r]
	if !ok {
		return "", fmt.Errorf("result %s has no description in tektongen.resultDocs", r)
	}
	return d, nil
}
