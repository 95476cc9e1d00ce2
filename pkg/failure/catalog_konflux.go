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
)

func init() {
	for _, e := range []Entry{
		{ID: ComponentNotInApplication, Title: "component in another application",
			Cause:    "Component {component} belongs to application {actual}, not {application}",
			Fix:      "set the application param to {actual}, or the component param to a component of {application} (kubectl get components -n {namespace})",
			Defaults: map[string]string{"component": "?", "actual": "another application", "application": "?", "namespace": "<namespace>"}},
		{ID: SnapshotMissing, Title: "no Snapshot for the commit",
			Cause:    "no push-event Snapshot of component {component} exists for commit {sha}: the on-push build has not finished (or failed), or the integration service has not made the Snapshot yet",
			Fix:      "check the on-push build PipelineRun of this commit in the Konflux UI; re-run once a Snapshot exists (kubectl get snapshots -n {namespace} -l {selector})",
			Defaults: map[string]string{"component": "?", "sha": "?", "namespace": "<namespace>", "selector": "appstudio.openshift.io/component=<component>,pac.test.appstudio.openshift.io/sha=<sha>"}},
		{ID: SnapshotTestsRunning, Title: "integration tests still running",
			Cause:    "the integration tests of Snapshot {snapshot} have not finished (AppStudioTestSucceeded is not set yet)",
			Fix:      "wait for the integration test PipelineRuns of Snapshot {snapshot} to finish, then re-run",
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
			Cause:    "no ReleasePlan in namespace {namespace} has spec.application {application}",
			Fix:      "create the ReleasePlan for {application} (and its ReleasePlanAdmission in the managed namespace), or name an existing one with the release_plan param (kubectl get releaseplans -n {namespace})",
			Defaults: map[string]string{"namespace": "<namespace>", "application": "?"}},
		{ID: ReleasePlanAmbiguous, Title: "several ReleasePlans",
			Cause:    "{count} ReleasePlans in namespace {namespace} are for application {application}: {plans}",
			Fix:      "name the one to use with the release_plan param",
			Defaults: map[string]string{"count": "several", "namespace": "<namespace>", "application": "?", "plans": "?"}},
		{ID: ReleasePlanNotMatched, Title: "ReleasePlan not matched",
			Cause:    "ReleasePlan {plan} is not matched (condition Matched is {status}): no ReleasePlanAdmission in the managed namespace {target} accepts application {application} from this tenant",
			Fix:      "ask the owners of {target} to add or fix the ReleasePlanAdmission for {application} (its spec.origin must be this namespace); then check kubectl get releaseplan {plan} -o jsonpath='{.status}'",
			Defaults: map[string]string{"plan": "?", "status": "not True", "target": "the target", "application": "?"}},
		{ID: ReleasePlanInactive, Title: "ReleasePlanAdmission inactive",
			Cause:    "ReleasePlan {plan} is matched to ReleasePlanAdmission {admission}, but status.releasePlanAdmission.active is not true: the admission is not accepting releases from this plan",
			Fix:      "ask the owners of the managed namespace to activate ReleasePlanAdmission {admission} (auto-release / block settings), then re-run",
			Defaults: map[string]string{"plan": "?", "admission": "?"}},
		{ID: ReleaseValidationFailed, Title: "Release rejected by the release service",
			Cause:    "the release service did not accept Release {release} (condition {condition} False): {message}",
			Fix:      "correct what the message names (ReleasePlan, ReleasePlanAdmission, Snapshot or Enterprise Contract policy), delete the Release (kubectl delete release {release} -n {namespace}: its name is fixed for this commit) and re-run",
			Defaults: map[string]string{"release": "?", "condition": "Validated", "message": "see the Release's status", "namespace": "<namespace>"}},
		{ID: ReleasePipelineFailed, Title: "release pipeline failed",
			Cause: "the managed release PipelineRun {pipeline_run} of Release {release} failed ({failure_reason}): {message}",
			Fix:   "{hint}; then delete the Release (kubectl delete release {release} -n {namespace}: its name is fixed for this commit) and re-run",
			Defaults: map[string]string{"pipeline_run": "?", "release": "?", "failure_reason": "Failed", "message": "see the Release's status",
				"hint": "read the logs of the failed task of that PipelineRun in the managed namespace and fix its cause (or ask the release engineers who own it)", "namespace": "<namespace>"}},
		{ID: ReleaseTimedOut, Title: "Release still running at the timeout",
			Cause:    "Release {release} did not finish within {timeout} (last phase: {phase}); it keeps running in Konflux",
			Fix:      "follow it with kubectl get release {release} -n {namespace} -w; re-running reports it as already released, or raise the timeout param",
			Defaults: map[string]string{"release": "?", "timeout": "the timeout", "phase": "unknown", "namespace": "<namespace>"}},
	} {
		register(e)
	}
}
