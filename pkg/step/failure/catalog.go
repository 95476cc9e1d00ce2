package failure

// ID names one known failure.
type ID string

// The known failures. Keep README.md's table in step with this list (a test checks it).
const (
	ImageNotFound    ID = "image-not-found"
	Unauthorized     ID = "unauthorized"
	Network          ID = "network"
	ReleaseExists    ID = "release-exists"
	TLS              ID = "tls"
	Timeout          ID = "timeout"
	RateLimited      ID = "rate-limited"
	ServerError      ID = "server-error"
	InvalidInput     ID = "invalid-input"
	DigestMismatch   ID = "digest-mismatch"
	ResultsTooLarge  ID = "results-too-large"
	ResourceNotFound ID = "resource-not-found"
	// NotPermitted is the Kubernetes API server refusing the run's ServiceAccount a verb on a
	// resource (403 Forbidden): a missing RoleBinding, not a wrong secret. Steps exit with
	// step.ExitNotPermitted for it, so that the report tells it apart from a gate that blocked.
	NotPermitted ID = "not-permitted"
	// MountMissing is a Secret or ConfigMap that a Task mounts from a volume named by a param, and
	// that does not exist or lacks the key the step reads (pkg/step Mounted): invalid input, which
	// the step says within a second instead of a pod waiting on a mount until the run times out.
	MountMissing ID = "mount-missing"
)

// Known failures of the Konflux gates (check-konflux, create-release, record-history).
const (
	ComponentNotInApplication ID = "component-not-in-application"
	SnapshotMissing           ID = "snapshot-missing"
	SnapshotTestsRunning      ID = "snapshot-tests-running"
	SnapshotTestsFailed       ID = "snapshot-tests-failed"
	SnapshotInvalid           ID = "snapshot-invalid"
	ReleasePlanMissing        ID = "releaseplan-missing"
	ReleasePlanAmbiguous      ID = "releaseplan-ambiguous"
	ReleasePlanNotMatched     ID = "releaseplan-not-matched"
	ReleasePlanInactive       ID = "releaseplan-inactive"
	ReleaseValidationFailed   ID = "release-validation-failed"
	ReleasePipelineFailed     ID = "release-pipeline-failed"
	ReleaseTimedOut           ID = "release-timed-out"
	// Added with the Konflux semantics of issue 13.
	SnapshotNewerFailed          ID = "snapshot-newer-failed"
	SnapshotSuperseded           ID = "snapshot-superseded"
	ReleasePlanAutoRelease       ID = "releaseplan-auto-release"
	AutoReleaseNotCreated        ID = "auto-release-not-created"
	NewerCommitReleased          ID = "newer-commit-released"
	ReleaseFailedAfterProduction ID = "release-failed-after-production"
	BuildFailed                  ID = "build-failed"
	BuildWaitTimedOut            ID = "build-wait-timed-out"
	// Added with issue 20.
	ReleaseMayBeInProduction ID = "release-may-be-in-production"
	SnapshotGoesBack         ID = "snapshot-goes-back"
)

// Known failures of the app-interface (SaaS file) gate.
const (
	SaasInvalid        ID = "saas-invalid"
	SaasRefMismatch    ID = "saas-ref-mismatch"
	SaasBlockedVersion ID = "saas-blocked-version"
)

// The vulnerability gate's known failures (pkg/gates/vulnerabilities).
const (
	CriticalVulnerabilities ID = "critical-vulnerabilities"
	ScanQueued              ID = "scan-queued"
	ScanFailed              ID = "scan-failed"
	ScanUnsupported         ID = "scan-unsupported"
	ScanNotFound            ID = "scan-not-found"
	ScanBadReply            ID = "scan-bad-reply"
)

// The alerts gate's known failures (pkg/gates/alerts).
const (
	AlertsFiring    ID = "alerts-firing"
	AlertsForbidden ID = "alerts-forbidden"
	AlertsBadReply  ID = "alerts-bad-reply"
)

// Known failures of the team knowledge store (pkg/step/knowledge, check-known-issues).
const (
	KnownIssueBlocks      ID = "known-issue-blocks"
	KnownIssuesUnreadable ID = "known-issues-unreadable"
)

// Known failures of the gate verdict (the last step of the preflight TaskRun).
const (
	GatesFailed ID = "gates-failed"
)

// entries is the catalog, by area.
var entries = []Entry{
	// General failures, classified by their type as well.
	{ID: ImageNotFound, Title: "image not found",
		Cause:    "the image {image} does not exist: the build for this commit has not run, has not finished, or failed",
		Fix:      "check the build PipelineRun for this commit (Konflux UI, application {application}, component {component}, on-push pipeline); re-run once it has pushed the image",
		Defaults: map[string]string{"image": "for this commit", "application": "?", "component": "?"}},
	{ID: Unauthorized, Title: "credentials rejected (401/403)",
		Cause:    "{service} rejected the credentials: they are expired, wrong, or lack the permission",
		Fix:      "refresh the secret {secret} (and check it grants {permission}), then re-run",
		Defaults: map[string]string{"service": "the server", "secret": "named by the Task's registry_secret or quay_token_secret", "permission": "read access"}},
	{ID: Network, Title: "no network route",
		Cause:    "cannot reach {host}: DNS lookup failed, no route to host, or connection refused",
		Fix:      "check the host name, the cluster's egress (NetworkPolicy, proxy, firewall) and that {host} is up; the gate fails closed until it is reachable",
		Defaults: map[string]string{"host": "the server"}},
	{ID: ReleaseExists, Title: "release already exists",
		Cause:    "this commit was already released: Release {release}",
		Fix:      "nothing to release; inspect it with: kubectl get release {release} -n {namespace} -o yaml",
		Defaults: map[string]string{"release": "?"}},
	{ID: TLS, Title: "TLS verification failed",
		Cause:    "the certificate of {host} is not trusted (unknown CA, expired, or wrong host name)",
		Fix:      "name the ConfigMap holding the right CA bundle in ca_bundle_configmap (default trusted-ca); do not turn verification off",
		Defaults: map[string]string{"host": "the server"}},
	{ID: Timeout, Title: "timed out",
		Cause:    "{what} did not answer or finish in time",
		Fix:      "check that {what} is healthy; raise the timeout param if it is just slow",
		Defaults: map[string]string{"what": "the server"}},
	{ID: RateLimited, Title: "rate limited (429)",
		Cause:    "{service} kept answering 429 Too Many Requests after the retries",
		Fix:      "wait a few minutes and re-run; use a dedicated robot account if it keeps happening",
		Defaults: map[string]string{"service": "the server"}},
	{ID: ServerError, Title: "server error (5xx)",
		Cause:    "{service} kept answering with server errors after the retries",
		Fix:      "check the service's status page or on-call; re-run when it is healthy",
		Defaults: map[string]string{"service": "the server"}},
	{ID: InvalidInput, Title: "invalid input",
		Cause: "a parameter is not valid",
		Fix:   "correct the parameter named above and re-run"},
	{ID: DigestMismatch, Title: "image tag moved",
		Cause:    "the tag {image} now points at {registry_digest}, but the Snapshot was made from {snapshot_digest}: the tag was re-pushed after the Snapshot was made",
		Fix:      "release the Snapshot's digest only: find out who re-pushed the tag, then re-run the build for this commit so that a new Snapshot is made",
		Defaults: map[string]string{"image": "?", "registry_digest": "?", "snapshot_digest": "?"}},
	{ID: ResultsTooLarge, Title: "results over Tekton's budget",
		Cause: "the step's results exceed the 4096-byte termination message of a TaskRun",
		Fix:   "this is a bug in the step: report it; results must stay small and bigger data go to a workspace"},
	{ID: NotPermitted, Title: "ServiceAccount not permitted (403)",
		Cause:    "the ServiceAccount may not {verb} {resource} in namespace {namespace}: the API server answered Forbidden",
		Fix:      "{fix}",
		Defaults: map[string]string{"verb": "read", "resource": "the resource", "fix": "apply the project's RBAC to the namespace (config/tenant-setup.sh <namespace>, as a tenant admin) and bind the ServiceAccounts per task through the PipelineRun's taskRunSpecs; see config/rbac/README.md"}},
	{ID: MountMissing, Title: "Secret or ConfigMap missing",
		Cause:    "{kind} {name} (param {param}) {problem}: the step cannot read its key {key}",
		Fix:      "{fix}, then re-run",
		Defaults: map[string]string{"kind": "the object", "name": "?", "param": "?", "key": "?", "problem": "is missing", "fix": "create it"}},
	{ID: ResourceNotFound, Title: "Konflux object not found",
		Cause:    "{kind} {name} does not exist in namespace {namespace}",
		Fix:      "check the spelling of the param and that you are in the right tenant namespace (kubectl get {resource} -n {namespace})",
		Defaults: map[string]string{"kind": "object", "name": "?", "namespace": "?", "resource": "<kind>"}},
	// Known failures of the Konflux gates (check-konflux, create-release, record-history).
	{ID: ComponentNotInApplication, Title: "component in another application",
		Cause:    "Component {component} belongs to application {actual}, not {application}",
		Fix:      "set the application param to {actual}, or the component param to a component of {application} (kubectl get components -n {namespace})",
		Defaults: map[string]string{"component": "?", "actual": "another application", "application": "?"}},
	{ID: SnapshotMissing, Title: "no Snapshot for the commit",
		Cause:    "no push-event Snapshot of component {component} exists for commit {sha} (pull-request, merge-queue and group Snapshots do not count): the on-push build has not finished (or failed), or the integration service has not made the Snapshot yet",
		Fix:      "check the on-push build PipelineRun of this commit in the Konflux UI; re-run once a Snapshot exists (kubectl get snapshots -n {namespace} -l {selector}), or set build_wait_timeout so that a run started with the build waits for it",
		Defaults: map[string]string{"component": "?", "sha": "?", "selector": "appstudio.openshift.io/component=<component>,pac.test.appstudio.openshift.io/sha=<sha>"}},
	{ID: SnapshotTestsRunning, Title: "integration tests still running",
		Cause:    "the integration tests of Snapshot {snapshot} have not finished (AppStudioTestSucceeded is not set yet)",
		Fix:      "wait for the integration test PipelineRuns of Snapshot {snapshot} to finish, then re-run (or set build_wait_timeout so that the run waits for them)",
		Defaults: map[string]string{"snapshot": "?"}},
	{ID: SnapshotTestsFailed, Title: "integration tests failed",
		Cause:    "the integration tests of Snapshot {snapshot} failed: {message}",
		Fix:      "look at the failed integration test PipelineRuns of Snapshot {snapshot}; fix the cause (or re-run a flaky scenario: kubectl label snapshot {snapshot} -n {namespace} test.appstudio.openshift.io/run=<scenario>) and re-run once they pass",
		Defaults: map[string]string{"snapshot": "?", "message": "see the Snapshot's status"}},
	{ID: SnapshotInvalid, Title: "Snapshot invalid",
		Cause:    "the integration service marked Snapshot {snapshot} Invalid (condition AppStudioIntegrationStatus): {message}",
		Fix:      "a Snapshot marked Invalid is never released: fix what the message says and re-run the build for this commit to get a new Snapshot",
		Defaults: map[string]string{"snapshot": "?", "message": "see the Snapshot's status"}},
	{ID: ReleasePlanMissing, Title: "no ReleasePlan for the application",
		Cause:    "no ReleasePlan in namespace {namespace} is for {owner} (spec.application, or spec.componentGroup when the component_group param is set)",
		Fix:      "create the ReleasePlan for {owner} (and its ReleasePlanAdmission in the managed namespace), or name an existing one with the release_plan param (kubectl get releaseplans -n {namespace})",
		Defaults: map[string]string{"owner": "the application"}},
	{ID: ReleasePlanAmbiguous, Title: "several ReleasePlans",
		Cause:    "{count} ReleasePlans in namespace {namespace} are for {owner}: {plans}",
		Fix:      "name the one to use with the release_plan param",
		Defaults: map[string]string{"count": "several", "owner": "the application", "plans": "?"}},
	{ID: ReleasePlanNotMatched, Title: "ReleasePlan not matched",
		Cause:    "ReleasePlan {plan} is not matched (condition Matched is {status}): no ReleasePlanAdmission in the managed namespace {target} accepts {owner} from this tenant",
		Fix:      "ask the owners of {target} to add or fix the ReleasePlanAdmission for {owner} (its spec.origin must be this namespace); then check kubectl get releaseplan {plan} -o jsonpath='{.status}'",
		Defaults: map[string]string{"plan": "?", "status": "not True", "target": "the target", "owner": "the application"}},
	{ID: ReleasePlanInactive, Title: "ReleasePlanAdmission inactive",
		Cause:    "ReleasePlan {plan} is matched to ReleasePlanAdmission {admission}, but status.releasePlanAdmission.active is not true: the admission is not accepting releases from this plan",
		Fix:      "ask the owners of the managed namespace to activate ReleasePlanAdmission {admission} (auto-release / block settings), then re-run",
		Defaults: map[string]string{"plan": "?", "admission": "?"}},
	{ID: ReleaseValidationFailed, Title: "Release rejected by the release service",
		Cause:    "the release service did not accept Release {release} (condition {condition} False): {message}",
		Fix:      "correct what the message names (ReleasePlan, ReleasePlanAdmission, Snapshot or Enterprise Contract policy), then re-run: a Release that failed does not block a new one (inspect it with kubectl get release {release} -n {namespace} -o yaml)",
		Defaults: map[string]string{"release": "?", "condition": "Validated", "message": "see the Release's status"}},
	{ID: ReleasePipelineFailed, Title: "release pipeline failed",
		Cause: "the {pipeline} of Release {release} failed ({failure_reason}) before anything reached production: {message}",
		Fix:   "{hint}; then re-run: a Release that failed does not block a new one (kubectl get release {release} -n {namespace} -o yaml shows its status)",
		Defaults: map[string]string{"pipeline": "managed release pipeline", "release": "?", "failure_reason": "Failed", "message": "see the Release's status",
			"hint": "read the logs of the failed task of that PipelineRun in the managed namespace and fix its cause (or ask the release engineers who own it)"}},
	{ID: ReleaseTimedOut, Title: "Release still running at the timeout",
		Cause:    "Release {release} did not finish within {timeout} (last phase: {phase}); it keeps running in Konflux",
		Fix:      "follow it with kubectl get release {release} -n {namespace} -w; a re-run waits on it instead of creating another; or raise the timeout param",
		Defaults: map[string]string{"release": "?", "timeout": "the timeout", "phase": "unknown"}},
	{ID: SnapshotNewerFailed, Title: "newest Snapshot of the commit failed its tests",
		Cause:    "Snapshot {snapshot}, the newest push Snapshot of commit {sha}, failed its integration tests ({message}); the older Snapshot {older} of the same commit passed, but the newest test evidence wins",
		Fix:      "find out why {snapshot} failed (a flaky scenario: re-run it with kubectl label snapshot {snapshot} -n {namespace} test.appstudio.openshift.io/run=<scenario>); to release the older passing Snapshot {older} deliberately, re-run with allow_older_snapshot=true",
		Defaults: map[string]string{"snapshot": "?", "sha": "?", "message": "see the Snapshot's status", "older": "?"}},
	{ID: SnapshotSuperseded, Title: "Snapshot superseded",
		Cause:    "the integration service canceled the tests of Snapshot {snapshot} because a newer Snapshot of {component} superseded it: {message}",
		Fix:      "a newer build of {component} exists: release that commit instead (kubectl get snapshots -n {namespace} -l appstudio.openshift.io/component={component})",
		Defaults: map[string]string{"snapshot": "?", "component": "the component", "message": "superseded"}},
	{ID: ReleasePlanAutoRelease, Title: "ReleasePlan auto-releases",
		Cause:    "ReleasePlan {plan} auto-releases ({why}): integration-service creates a Release for every push Snapshot that passes its tests, bypassing these gates, and this pipeline would create a second one",
		Fix:      "let these gates decide: kubectl label releaseplan {plan} -n {namespace} release.appstudio.openshift.io/auto-release=false --overwrite; or keep auto-release and re-run with auto_release=observe, which runs the gates and reports the Release integration-service creates",
		Defaults: map[string]string{"plan": "?", "why": "auto-release is on by default"}},
	{ID: AutoReleaseNotCreated, Title: "no auto-release appeared",
		Cause:    "in observe mode no Release of Snapshot {snapshot} through {plan} appeared {within}: integration-service did not auto-release it ({message})",
		Fix:      "read the Snapshot's AutoReleased condition (kubectl get snapshot {snapshot} -n {namespace} -o yaml); to release with these gates instead, label the ReleasePlan auto-release=false and re-run with auto_release=block",
		Defaults: map[string]string{"snapshot": "?", "plan": "the ReleasePlan", "within": "within the timeout", "message": "no reason recorded"}},
	{ID: NewerCommitReleased, Title: "a newer commit is released already",
		Cause:    "commit {newer_sha} of {component}, built after this one (Snapshot {newer_snapshot} at {newer_built}; this commit's Snapshot {snapshot} at {built}), is in production already (Release {newer_release}): releasing this commit would roll production back",
		Fix:      "release a commit at least as new as {newer_sha}; to roll back on purpose, re-run with allow_out_of_order=true",
		Defaults: map[string]string{"newer_sha": "?", "component": "the component", "newer_snapshot": "?", "newer_built": "?", "snapshot": "?", "built": "?", "newer_release": "?"}},
	{ID: ReleaseFailedAfterProduction, Title: "Release failed after production",
		Cause:    "the managed pipeline of Release {release} succeeded, so the content is in production, but the {phase} pipeline after it failed: {message}",
		Fix:      "do not release again: the commit is released. Fix what the {phase} pipeline does (its PipelineRun's logs, kubectl get release {release} -n {namespace} -o yaml) and run its follow-up by hand",
		Defaults: map[string]string{"release": "?", "phase": "final", "message": "see the Release's status"}},
	{ID: ReleaseMayBeInProduction, Title: "Release may be in production",
		Cause:    "Release {release} (Snapshot {snapshot}) did not succeed, yet its content may have reached production: {why}",
		Fix:      "do not release this commit again until a person has checked {check}; record what they find (kubectl get release {release} -n {namespace} -o yaml shows the status)",
		Defaults: map[string]string{"release": "?", "snapshot": "?", "why": "see the Release's status", "check": "the Release's managed PipelineRun"}},
	{ID: SnapshotGoesBack, Title: "Snapshot would take components back",
		Cause:    "Snapshot {snapshot} holds older images than Snapshot {released_snapshot}, which Release {release} put in production: {components}",
		Fix:      "release a Snapshot that holds the newer images (one built after {released_snapshot}); to roll these components back on purpose, re-run with allow_out_of_order=true",
		Defaults: map[string]string{"snapshot": "?", "released_snapshot": "?", "release": "?", "components": "?"}},
	{ID: BuildFailed, Title: "build failed",
		Cause:    "the on-push build PipelineRun {pipeline_run} of commit {sha} (component {component}) failed: {message}",
		Fix:      "fix the build (its logs: kubectl logs or the Konflux UI, PipelineRun {pipeline_run} in {namespace}), push the fix, and release that commit",
		Defaults: map[string]string{"pipeline_run": "?", "sha": "?", "component": "?", "message": "see the PipelineRun"}},
	{ID: BuildWaitTimedOut, Title: "build not done in time",
		Cause:    "within {timeout} commit {sha} of {component} did not get a tested build ({state}); a commit that changes no file the component's on-push PipelineRun watches (its pathChanged / on-cel-expression filter) never gets one",
		Fix:      "if the commit changed none of the component's files there is nothing to release: release the last commit that did; otherwise check the on-push build and integration tests in the Konflux UI, or raise build_wait_timeout",
		Defaults: map[string]string{"timeout": "the timeout", "sha": "?", "component": "?", "state": "nothing seen"}},
	// Known failures of the app-interface (SaaS file) gate.
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
	// The vulnerability gate's known failures (pkg/gates/vulnerabilities).
	{ID: CriticalVulnerabilities, Title: "blocking vulnerabilities found",
		Cause:    "Quay's scan of {image} found {counts}: {cves}",
		Fix:      "rebuild on a patched base image or update the affected packages (the fixed-by versions are listed above), then re-run; if the risk is accepted, re-run with {param} for this run, approved by {approver}",
		Defaults: map[string]string{"image": "the image", "counts": "blocking vulnerabilities", "cves": "see the list above", "param": "fail_on_critical=false", "approver": "the product's security contact"}},
	{ID: ScanQueued, Title: "vulnerability scan not ready",
		Cause:    "Quay has not scanned {digest} yet: the scan was still queued after {waited}",
		Fix:      "wait a few minutes and re-run (or raise poll_timeout); if it stays queued, check Quay's security scanner status (status.quay.io for quay.io)",
		Defaults: map[string]string{"digest": "the image", "waited": "the poll timeout"}},
	{ID: ScanFailed, Title: "vulnerability scan failed",
		Cause:    "Quay could not scan {what}: status {status}",
		Fix:      "the gate fails closed without a scan: push the image again (a new digest gets a new scan) or ask the Quay admins about the security scanner; {hint}",
		Defaults: map[string]string{"what": "the image", "status": "failed", "hint": "a layer over the scanner's size limit (manifest_layer_too_large) needs a smaller image"}},
	{ID: ScanUnsupported, Title: "image not scannable",
		Cause:    "Quay does not scan {what} (status unsupported){why}",
		Fix:      "{fix}",
		Defaults: map[string]string{"what": "the image", "why": "", "fix": "pass the per-platform digests (platform_digests, the image gate's PLATFORM_DIGESTS result) when the digest is a multi-arch index; otherwise the artifact has no scannable image layers"}},
	{ID: ScanNotFound, Title: "manifest not found in Quay",
		Cause:    "Quay answered 404 for {digest} in repository {repository}: the manifest was not pushed there, the repository path is wrong, the credentials cannot see a private repository (Quay answers 404 then), or the security scanner is off on this Quay",
		Fix:      "check staging_image and pinned_digest (the image gate's STAGING_IMAGE and PINNED_DIGEST) and that the credentials {secret} grant read access to {repository}",
		Defaults: map[string]string{"digest": "the digest", "repository": "?", "secret": "given to the step"}},
	{ID: ScanBadReply, Title: "unexpected reply from Quay",
		Cause:    "{url} did not answer with Quay's security report JSON ({detail}): quay_api_url points at something else (a proxy, a login page) or the API changed",
		Fix:      "set quay_api_url to the base URL of Quay (e.g. https://quay.io; the step appends /api/v1/…); the gate fails closed until the reply is readable",
		Defaults: map[string]string{"url": "Quay", "detail": "not JSON"}},
	// The alerts gate's known failures (pkg/gates/alerts).
	{ID: AlertsFiring, Title: "production alerts firing",
		Cause:    "{count} firing in production ({matchers}): {names}",
		Fix:      "resolve them, or silence them in Alertmanager if they are unrelated to this release{note}, then re-run",
		Defaults: map[string]string{"count": "alerts are", "matchers": "the gate's matchers", "names": "see the list above", "note": ""}},
	{ID: AlertsForbidden, Title: "monitoring access forbidden (403)",
		Cause:    "{service} answered 403 Forbidden: the token lacks the monitoring role",
		Fix:      "grant the ServiceAccount whose token is {secret} the cluster role cluster-monitoring-view (oc adm policy add-cluster-role-to-user cluster-monitoring-view -z <serviceaccount> -n <namespace>; for a namespace-scoped Thanos tenancy port, the role monitoring-rules-view in that namespace), then re-run",
		Defaults: map[string]string{"service": "Alertmanager", "secret": "the monitoring_token_secret Secret"}},
	{ID: AlertsBadReply, Title: "unexpected reply from the alerts source",
		Cause:    "{url} did not answer like the {api}: the URL points at something else (the web UI, a login page, a proxy) or source={source} does not match the server",
		Fix:      "set url to the base URL of the server (the step appends {path}) and source to alertmanager or prometheus to match it; the gate fails closed until the reply is readable",
		Defaults: map[string]string{"url": "the alerts URL", "api": "alerts API", "source": "?", "path": "/api/v2/alerts or /api/v1/alerts"}},
	// Known failures of the team knowledge store (pkg/step/knowledge, check-known-issues).
	{ID: KnownIssueBlocks, Title: "blocking known issue",
		Cause:    "the team marked a known issue as blocking releases: {issues}",
		Fix:      "wait until it is resolved; then remove the entry, or set blocks: false on it, in the team knowledge store (kubectl edit configmap {configmap} -n {namespace}) and re-run",
		Defaults: map[string]string{"issues": "see the list above", "configmap": "release-knowledge"}},
	// Fail closed: what cannot be read may be a release freeze.
	{ID: KnownIssuesUnreadable, Title: "known issues cannot be read",
		Cause:    "the team knowledge store holds known issues that cannot be read, and any of them may block releases: {entries}",
		Fix:      "correct the entries named in the team knowledge store (kubectl edit configmap {configmap} -n {namespace}): quote a message that holds \": \", write blocks: true or blocks: false (nothing else), check the field names; then re-run",
		Defaults: map[string]string{"entries": "see the warnings above", "configmap": "release-knowledge"}},
	// Known failures of the gate verdict (the last step of the preflight TaskRun).
	{ID: GatesFailed, Title: "gates blocked the release",
		Cause:    "the gate(s) {gates} failed or did not run; each printed its own cause and fix above in this TaskRun's log",
		Fix:      "fix what each ✗ gate above reports (or opt out of a gate explicitly with its skip param), then re-run the pipeline",
		Defaults: map[string]string{"gates": "listed above"}},
}
