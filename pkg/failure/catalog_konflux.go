package failure

// Known failures of the Konflux gates (konflux-preflight, create-release, record-history).
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

func init() {
	for _, e := range []Entry{
		{ID: ComponentNotInApplication, Title: "component in another application",
			Cause:    "Component {component} belongs to application {actual}, not {application}",
			Fix:      "set the application param to {actual}, or the component param to a component of {application} (kubectl get components -n {namespace})",
			Defaults: map[string]string{"component": "?", "actual": "another application", "application": "?", "namespace": "<namespace>"}},
		{ID: SnapshotMissing, Title: "no Snapshot for the commit",
			Cause:    "no push-event Snapshot of component {component} exists for commit {sha} (pull-request, merge-queue and group Snapshots do not count): the on-push build has not finished (or failed), or the integration service has not made the Snapshot yet",
			Fix:      "check the on-push build PipelineRun of this commit in the Konflux UI; re-run once a Snapshot exists (kubectl get snapshots -n {namespace} -l {selector}), or set build_wait_timeout so that a run started with the build waits for it",
			Defaults: map[string]string{"component": "?", "sha": "?", "namespace": "<namespace>", "selector": "appstudio.openshift.io/component=<component>,pac.test.appstudio.openshift.io/sha=<sha>"}},
		{ID: SnapshotTestsRunning, Title: "integration tests still running",
			Cause:    "the integration tests of Snapshot {snapshot} have not finished (AppStudioTestSucceeded is not set yet)",
			Fix:      "wait for the integration test PipelineRuns of Snapshot {snapshot} to finish, then re-run (or set build_wait_timeout so that the run waits for them)",
			Defaults: map[string]string{"snapshot": "?"}},
		{ID: SnapshotTestsFailed, Title: "integration tests failed",
			Cause:    "the integration tests of Snapshot {snapshot} failed: {message}",
			Fix:      "look at the failed integration test PipelineRuns of Snapshot {snapshot}; fix the cause (or re-run a flaky scenario: kubectl label snapshot {snapshot} -n {namespace} test.appstudio.openshift.io/run=<scenario>) and re-run once they pass",
			Defaults: map[string]string{"snapshot": "?", "message": "see the Snapshot's status", "namespace": "<namespace>"}},
		{ID: SnapshotInvalid, Title: "Snapshot invalid",
			Cause:    "the integration service marked Snapshot {snapshot} Invalid (condition AppStudioIntegrationStatus): {message}",
			Fix:      "a Snapshot marked Invalid is never released: fix what the message says and re-run the build for this commit to get a new Snapshot",
			Defaults: map[string]string{"snapshot": "?", "message": "see the Snapshot's status"}},
		{ID: ReleasePlanMissing, Title: "no ReleasePlan for the application",
			Cause:    "no ReleasePlan in namespace {namespace} is for {owner} (spec.application, or spec.componentGroup when the component_group param is set)",
			Fix:      "create the ReleasePlan for {owner} (and its ReleasePlanAdmission in the managed namespace), or name an existing one with the release_plan param (kubectl get releaseplans -n {namespace})",
			Defaults: map[string]string{"namespace": "<namespace>", "owner": "the application"}},
		{ID: ReleasePlanAmbiguous, Title: "several ReleasePlans",
			Cause:    "{count} ReleasePlans in namespace {namespace} are for {owner}: {plans}",
			Fix:      "name the one to use with the release_plan param",
			Defaults: map[string]string{"count": "several", "namespace": "<namespace>", "owner": "the application", "plans": "?"}},
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
			Defaults: map[string]string{"release": "?", "condition": "Validated", "message": "see the Release's status", "namespace": "<namespace>"}},
		{ID: ReleasePipelineFailed, Title: "release pipeline failed",
			Cause: "the {pipeline} of Release {release} failed ({failure_reason}) before anything reached production: {message}",
			Fix:   "{hint}; then re-run: a Release that failed does not block a new one (kubectl get release {release} -n {namespace} -o yaml shows its status)",
			Defaults: map[string]string{"pipeline": "managed release pipeline", "release": "?", "failure_reason": "Failed", "message": "see the Release's status",
				"hint": "read the logs of the failed task of that PipelineRun in the managed namespace and fix its cause (or ask the release engineers who own it)", "namespace": "<namespace>"}},
		{ID: ReleaseTimedOut, Title: "Release still running at the timeout",
			Cause:    "Release {release} did not finish within {timeout} (last phase: {phase}); it keeps running in Konflux",
			Fix:      "follow it with kubectl get release {release} -n {namespace} -w; a re-run waits on it instead of creating another; or raise the timeout param",
			Defaults: map[string]string{"release": "?", "timeout": "the timeout", "phase": "unknown", "namespace": "<namespace>"}},
		{ID: SnapshotNewerFailed, Title: "newest Snapshot of the commit failed its tests",
			Cause:    "Snapshot {snapshot}, the newest push Snapshot of commit {sha}, failed its integration tests ({message}); the older Snapshot {older} of the same commit passed, but the newest test evidence wins",
			Fix:      "find out why {snapshot} failed (a flaky scenario: re-run it with kubectl label snapshot {snapshot} -n {namespace} test.appstudio.openshift.io/run=<scenario>); to release the older passing Snapshot {older} deliberately, re-run with allow_older_snapshot=true",
			Defaults: map[string]string{"snapshot": "?", "sha": "?", "message": "see the Snapshot's status", "older": "?", "namespace": "<namespace>"}},
		{ID: SnapshotSuperseded, Title: "Snapshot superseded",
			Cause:    "the integration service canceled the tests of Snapshot {snapshot} because a newer Snapshot of {component} superseded it: {message}",
			Fix:      "a newer build of {component} exists: release that commit instead (kubectl get snapshots -n {namespace} -l appstudio.openshift.io/component={component})",
			Defaults: map[string]string{"snapshot": "?", "component": "the component", "message": "superseded", "namespace": "<namespace>"}},
		{ID: ReleasePlanAutoRelease, Title: "ReleasePlan auto-releases",
			Cause:    "ReleasePlan {plan} auto-releases ({why}): integration-service creates a Release for every push Snapshot that passes its tests, bypassing these gates, and this pipeline would create a second one",
			Fix:      "let these gates decide: kubectl label releaseplan {plan} -n {namespace} release.appstudio.openshift.io/auto-release=false --overwrite; or keep auto-release and re-run with auto_release=observe, which runs the gates and reports the Release integration-service creates",
			Defaults: map[string]string{"plan": "?", "why": "auto-release is on by default", "namespace": "<namespace>"}},
		{ID: AutoReleaseNotCreated, Title: "no auto-release appeared",
			Cause:    "in observe mode no Release of Snapshot {snapshot} through {plan} appeared {within}: integration-service did not auto-release it ({message})",
			Fix:      "read the Snapshot's AutoReleased condition (kubectl get snapshot {snapshot} -n {namespace} -o yaml); to release with these gates instead, label the ReleasePlan auto-release=false and re-run with auto_release=block",
			Defaults: map[string]string{"snapshot": "?", "plan": "the ReleasePlan", "within": "within the timeout", "message": "no reason recorded", "namespace": "<namespace>"}},
		{ID: NewerCommitReleased, Title: "a newer commit is released already",
			Cause:    "commit {newer_sha} of {component}, built after this one (Snapshot {newer_snapshot} at {newer_built}; this commit's Snapshot {snapshot} at {built}), is in production already (Release {newer_release}): releasing this commit would roll production back",
			Fix:      "release a commit at least as new as {newer_sha}; to roll back on purpose, re-run with allow_out_of_order=true",
			Defaults: map[string]string{"newer_sha": "?", "component": "the component", "newer_snapshot": "?", "newer_built": "?", "snapshot": "?", "built": "?", "newer_release": "?"}},
		{ID: ReleaseFailedAfterProduction, Title: "Release failed after production",
			Cause:    "the managed pipeline of Release {release} succeeded, so the content is in production, but the {phase} pipeline after it failed: {message}",
			Fix:      "do not release again: the commit is released. Fix what the {phase} pipeline does (its PipelineRun's logs, kubectl get release {release} -n {namespace} -o yaml) and run its follow-up by hand",
			Defaults: map[string]string{"release": "?", "phase": "final", "message": "see the Release's status", "namespace": "<namespace>"}},
		{ID: ReleaseMayBeInProduction, Title: "Release may be in production",
			Cause:    "Release {release} (Snapshot {snapshot}) did not succeed, yet its content may have reached production: {why}",
			Fix:      "do not release this commit again until a person has checked {check}; record what they find (kubectl get release {release} -n {namespace} -o yaml shows the status)",
			Defaults: map[string]string{"release": "?", "snapshot": "?", "why": "see the Release's status", "check": "the Release's managed PipelineRun", "namespace": "<namespace>"}},
		{ID: SnapshotGoesBack, Title: "Snapshot would take components back",
			Cause:    "Snapshot {snapshot} holds older images than Snapshot {released_snapshot}, which Release {release} put in production: {components}",
			Fix:      "release a Snapshot that holds the newer images (one built after {released_snapshot}); to roll these components back on purpose, re-run with allow_out_of_order=true",
			Defaults: map[string]string{"snapshot": "?", "released_snapshot": "?", "release": "?", "components": "?"}},
		{ID: BuildFailed, Title: "build failed",
			Cause:    "the on-push build PipelineRun {pipeline_run} of commit {sha} (component {component}) failed: {message}",
			Fix:      "fix the build (its logs: kubectl logs or the Konflux UI, PipelineRun {pipeline_run} in {namespace}), push the fix, and release that commit",
			Defaults: map[string]string{"pipeline_run": "?", "sha": "?", "component": "?", "message": "see the PipelineRun", "namespace": "<namespace>"}},
		{ID: BuildWaitTimedOut, Title: "build not done in time",
			Cause:    "within {timeout} commit {sha} of {component} did not get a tested build ({state}); a commit that changes no file the component's on-push PipelineRun watches (its pathChanged / on-cel-expression filter) never gets one",
			Fix:      "if the commit changed none of the component's files there is nothing to release: release the last commit that did; otherwise check the on-push build and integration tests in the Konflux UI, or raise build_wait_timeout",
			Defaults: map[string]string{"timeout": "the timeout", "sha": "?", "component": "?", "state": "nothing seen"}},
	} {
		register(e)
	}
}
