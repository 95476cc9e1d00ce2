package tektongen

import (
	"fmt"
	"strings"

	"github.com/release-to-prod/release-to-prod/pkg/actions/history"
	"github.com/release-to-prod/release-to-prod/pkg/actions/notify"
	"github.com/release-to-prod/release-to-prod/pkg/actions/release"
	"github.com/release-to-prod/release-to-prod/pkg/gates/alerts"
	"github.com/release-to-prod/release-to-prod/pkg/gates/appinterface"
	"github.com/release-to-prod/release-to-prod/pkg/gates/image"
	"github.com/release-to-prod/release-to-prod/pkg/gates/input"
	"github.com/release-to-prod/release-to-prod/pkg/gates/knownissues"
	"github.com/release-to-prod/release-to-prod/pkg/gates/konflux"
	"github.com/release-to-prod/release-to-prod/pkg/gates/verdict"
	"github.com/release-to-prod/release-to-prod/pkg/gates/vulnerabilities"
	"github.com/release-to-prod/release-to-prod/pkg/step"
)

// The Secrets and ConfigMaps the steps read, mounted by their Tasks (MountUse), described once.
var (
	registryCredentials = MountUse{Volume: "registry-credentials", Kind: "Secret", NameEnv: "DOCKER_CONFIG_SECRET",
		FileEnv: "DOCKER_CONFIG_FILE", Key: ".dockerconfigjson"}
	// The key of Konflux's trusted-ca; the step reads ca.crt or service-ca.crt when it is missing
	// (httpclient.CABundleKeys).
	caBundle = MountUse{Volume: "ca-bundle", Kind: "ConfigMap", NameEnv: "CA_CONFIGMAP", FileEnv: "CA_FILE", Key: "ca-bundle.crt"}
	tokenOf  = func(volume, secretParam, def, what string) MountUse {
		return MountUse{Volume: volume, Kind: "Secret", NameEnv: "TOKEN_SECRET", FileEnv: "TOKEN_FILE",
			KeyParam: keyParam(strings.ReplaceAll(volume, "-", "_")+"_key", secretParam, def, what)}
	}
)

func keyParam(name, objectParam, def, what string) *Param {
	return &Param{Name: name, Default: &def, Check: "key", Description: "Key of " + objectParam + " holding " + what + "."}
}

// Steps is every step of the project, in the order the preflight pod runs the gates.
//
// Each Memory is the step's peak RSS measured by test/e2e TestStepMemory (a release, and a dry
// run among 10,000 Snapshots and 10,000 Releases with a 1.5 MB Quay report; make bench prints
// the figures) × 1.5, rounded up to a multiple of 16Mi, at least 32Mi. That test fails when a
// peak passes 80% of its limit.
var Steps = []*Step{
	{
		Name: "check-input", DisplayName: "Check the run's params", NoTask: true, Memory: "32Mi",
		Description:    "Checks every param of the release-to-prod Pipeline against its rule (SHA, Kubernetes names, booleans, URLs, paths) before any gate talks to a service, and names each param that is not valid.",
		PipelineParams: true, // its config (pkg/gates/input/params) is generated from the Pipeline's params
		Results:        []step.ResultName{input.ResultInvalid},
	},
	{
		Name: "check-known-issues", DisplayName: "Check the team's known issues", Memory: "32Mi", Tags: "release, knowledge",
		Description: "Reads the team knowledge store (a ConfigMap: known issues and learned fixes), prints the active known issues, hands the store to the later steps of the pod (KNOWLEDGE_FILE) so that a failure is matched against the team's learned fixes too, and blocks like a gate while a known issue marked blocks: true is active.",
		Config:      &knownissues.Config{},
		Results:     []step.ResultName{knownissues.ResultKnownIssues},
	},
	{
		Name: "check-image", DisplayName: "Check staging image", Memory: "32Mi", Tags: "konflux, release, image",
		Description: "Checks that the staging image tagged with the commit SHA exists (one HEAD request; with build_wait_timeout it first waits, with progress lines, for the commit's build and push Snapshot), pins its digest and lists the digest of each platform of a multi-arch index. The repository is read from the Konflux Component (or a Snapshot) unless given. Fails with advice when the image was not built yet, the credentials are rejected or the registry cannot be reached.",
		Config:      &image.Config{},
		Results:     []step.ResultName{image.ResultStagingImage, image.ResultPinnedDigest, image.ResultPlatformDigests},
		Mounts:      []MountUse{registryCredentials},
	},
	{
		Name: "check-konflux", DisplayName: "Konflux preflight", Memory: "48Mi", Tags: "konflux, release",
		Description: "Checks that the Konflux objects a release needs exist and agree: the Application, the Component in it, the newest push-event Snapshot of the commit whose tests passed (its image digest equal to the one the image gate pinned), a matched and active ReleasePlan; and reports whether the commit was released already (Releases of any author, and the project's release history).",
		Config:      &konflux.Config{},
		Results:     []step.ResultName{konflux.ResultSnapshot, konflux.ResultReleasePlan, konflux.ResultAlreadyReleased, konflux.ResultExistingRelease, konflux.ResultLatestRelease},
	},
	{
		Name: "check-alerts", DisplayName: "Check production alerts", Memory: "32Mi", Tags: "release, monitoring",
		Description: "The alerts gate: blocks a production release while production alerts are firing. Reads Alertmanager's API v2 (silenced and inhibited alerts do not block) or a Prometheus/Thanos /api/v1/alerts, and fails closed when the source cannot be reached or read, unless skip_alerts is \"true\".",
		Config:      &alerts.Config{},
		Results:     []step.ResultName{alerts.ResultFiring, alerts.ResultNames},
		Mounts:      []MountUse{tokenOf("monitoring-token", "monitoring_token_secret", "token", "the token"), caBundle},
	},
	{
		Name: "check-vulnerabilities", DisplayName: "Check vulnerabilities (Quay scan)", Memory: "48Mi", Tags: "release, security",
		Description: "The vulnerability gate: reads Quay's security scan (Clair) of the pinned image digest and blocks while it reports critical vulnerabilities (optionally high ones too). A queued scan is polled until scan_poll_timeout; a multi-arch index, which Quay does not scan, is checked platform by platform. Fails closed when the scan is missing, failed, unsupported or unreadable, unless skip_vulnerabilities is \"true\".",
		Config:      &vulnerabilities.Config{},
		Results:     []step.ResultName{vulnerabilities.ResultScanOutput, vulnerabilities.ResultCriticalCount},
		Mounts:      []MountUse{tokenOf("quay-token", "quay_token_secret", "token", "the token"), registryCredentials, caBundle},
	},
	{
		Name: "check-app-interface", DisplayName: "Check app-interface SaaS file", Memory: "32Mi", Tags: "release, app-interface",
		Description: "Validates the app-interface SaaS file that deploys the component: its production target's ref is the commit to release, the target is neither disabled nor deleted, the commit is not in the app's blockedVersions, every $ref resolves inside the checkout, parameters and promotion settings are well formed. Every problem is listed with its file and line before the step fails.",
		Config:      &appinterface.Config{},
		Results:     []step.ResultName{appinterface.ResultSaasFile, appinterface.ResultTargetsChecked},
		Workspaces: []WorkspaceUse{{Workspace: "app-interface", Optional: true,
			Description: "A checkout of app-interface (PVC or emptyDir a clone task filled). Unbound: the gate blocks unless skip_app_interface is \"true\".",
			PathEnv:     "CHECKOUT_DIR"}},
	},
	{
		Name: "gate-verdict", DisplayName: "Gate verdict", NoTask: true, Memory: "32Mi",
		Description: "Reads the exit code each gate step of the same TaskRun left (the gates run with onError: continue), prints a table of the gates with each failed gate's cause and fix, and fails when any gate failed or did not run.",
		Config:      &verdict.Config{},
		Results:     []step.ResultName{verdict.ResultGateSummary, verdict.ResultFailedGates, verdict.ResultFailureCause, verdict.ResultFailureFix, verdict.ResultUnknownFailures},
	},
	{
		Name: "create-release", DisplayName: "Create Konflux Release", Memory: "32Mi", Tags: "konflux, release",
		Description: "Creates the Konflux Release of a Snapshot through a ReleasePlan under a name derived from (component, commit, ReleasePlan), so that runs racing for the same commit create exactly one, then waits for the release service's outcome, printing progress and explaining a failure from the Release's conditions. In a dry run it prints the Release and creates nothing.",
		Config:      &release.Config{},
		Results:     []step.ResultName{release.ResultReleaseName, release.ResultReleaseStatus},
	},
	{
		Name: "record-history", DisplayName: "Record release history", Memory: "32Mi", Tags: "konflux, release",
		Description: "Works out how a release run ended — from its params, and from the run's TaskRuns in the cluster when the preflight left no results (rejected input, a crash, an OOM kill, an image that cannot be pulled) — and appends one entry (commit, component, Snapshot, Release, outcome, cause, PipelineRun) to the release history ConfigMap, newest first, bounded and safe under concurrent runs.",
		Config:      &history.RecordConfig{},
		Results: []step.ResultName{history.ResultHistoryEntries, history.ResultReleaseStatus, history.ResultReleaseName, history.ResultGateSummary,
			history.ResultPinnedDigest, history.ResultFailureCause, history.ResultFailureFix, history.ResultKnownIssues, history.ResultRecordNote},
	},
	{
		Name: "notify", DisplayName: "Notify Slack of a release", Memory: "32Mi", Tags: "release, slack",
		Description: "Posts how a release run went (released, blocked, rejected, dry run, failed) to a Slack incoming webhook as a Block Kit message, with the cause and the fix. A message that cannot be sent is a warning and the step succeeds, unless fail_on_error is \"true\". Without the Slack Secret (slack_webhook_secret) the notification is skipped and says so.",
		Config:      &notify.Config{},
		Results:     []step.ResultName{notify.ResultNotified},
		Mounts: []MountUse{{Volume: "slack-webhook", Kind: "Secret", NameEnv: "WEBHOOK_SECRET", FileEnv: "WEBHOOK_URL_FILE",
			KeyParam: keyParam("slack_webhook_key", "slack_webhook_secret", "url", "the webhook URL")}},
	},
}

// StepNamed returns the step called name, or nil.
func StepNamed(name string) *Step {
	for _, s := range Steps {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// resultDocs describes every result, once: a result passed on under the same name (record-history
// passes on the preflight's, the Pipeline the tasks') means the same thing wherever it appears.
var resultDocs = map[step.ResultName]string{
	input.ResultInvalid:                 "The params that are not valid, each with why; empty when all are valid.",
	knownissues.ResultKnownIssues:       "The active known issues, one \"service: message\" line each, for the notification (bounded); empty when none.",
	image.ResultStagingImage:            "The staging repository (host/path), without tag or digest.",
	image.ResultPinnedDigest:            "Digest of the commit's tag in the staging repository (an index's for a multi-arch image): the image released; empty when none was pinned.",
	image.ResultPlatformDigests:         "For an index, os/arch=digest pairs separated by commas; empty otherwise.",
	konflux.ResultSnapshot:              "Name of the Snapshot to release.",
	konflux.ResultReleasePlan:           "Name of the ReleasePlan to release through.",
	konflux.ResultAlreadyReleased:       "\"true\" when a succeeded Release of this commit's Snapshot exists (any name, any author) or is recorded in the history, else \"false\".",
	konflux.ResultExistingRelease:       "A Release of this commit's Snapshot that is still running (any name, any author): create-release waits on it instead of creating another; empty when none.",
	konflux.ResultLatestRelease:         "Name of the latest Release of the component (from the history, else this commit's), for context; empty when none.",
	alerts.ResultFiring:                 "Number of firing alerts that matched (0 when clear or skipped).",
	alerts.ResultNames:                  "Distinct names of the firing alerts, comma-separated, at most 512 bytes (\"…(+N more)\" when cut); \"skipped\" when skipped.",
	vulnerabilities.ResultScanOutput:    "Vulnerability counts as Konflux clair-scan's SCAN_OUTPUT, worst platform per severity; {\"skipped\":true} when skipped.",
	vulnerabilities.ResultCriticalCount: "Number of critical vulnerabilities (worst platform); \"skipped\" when skipped.",
	appinterface.ResultSaasFile:         "The SaaS file that was validated, relative to the checkout.",
	appinterface.ResultTargetsChecked:   "The production targets whose ref was checked, as name@namespace separated by commas (cut to 512 bytes with a \"+N more\" tail); \"skipped\" when skipped.",
	verdict.ResultGateSummary:           "The gates in one line, e.g. \"image ✓, konflux ✓, alerts ✗\"; empty when the preflight did not get that far.",
	verdict.ResultFailedGates:           "Names of the gates that failed or did not run, comma-separated; empty when all passed.",
	verdict.ResultFailureCause:          "The likely cause of what stopped the run (one \"gate: cause\" line per gate, cut to fit; the log has them whole); empty when nothing failed.",
	verdict.ResultFailureFix:            "The fix for what stopped the run (one \"gate: fix\" line per gate, cut to fit; the log has them whole); empty when nothing failed.",
	verdict.ResultUnknownFailures:       "The failures no catalog entry or learned fix explained, with their fingerprints (bounded JSON), for the history and tkn-local failures list; empty when none.",
	release.ResultReleaseName:           "The Release created or found for the commit (in a dry run: the one that would be created); empty when none.",
	release.ResultReleaseStatus:         "How the release ended: Succeeded, Failed, TimedOut, DryRun, AlreadyReleased, Created, Blocked or Doubtful (may be in production); record-history adds Rejected, Running, Cancelled, RunTimedOut, NotPermitted.",
	history.ResultHistoryEntries:        "Number of entries in the history after this one was added.",
	history.ResultRecordNote:            "What went wrong recording the run in the history (e.g. a ConfigMap write the ServiceAccount may not make), in one line with the fix; empty when recorded.",
	notify.ResultNotified:               "\"true\" when Slack took the message, \"false\" when it could not be sent, \"skipped\" when no Slack Secret is configured.",
}

// describe returns the description of result r.
func describe(r step.ResultName) (string, error) {
	d, ok := resultDocs[r]
	if !ok {
		return "", fmt.Errorf("result %s has no description in tektongen.resultDocs", r)
	}
	return d, nil
}
