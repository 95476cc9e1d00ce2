package konflux

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/release-to-prod/release-to-prod/pkg/step/failure"
	"github.com/release-to-prod/release-to-prod/pkg/step/knowledge"
)

// Labels on Releases. The release service's webhook sets the releasePlan and snapshot labels on
// every Release when it is created (and refuses to change them); the project sets them too so
// that its own lookups work where no webhook runs.
const (
	LabelReleasePlan = "release.appstudio.openshift.io/releasePlan"
	LabelSnapshot    = "release.appstudio.openshift.io/snapshot"
	// LabelAutomated marks a Release integration-service created. Only integration-service may
	// set it: the release service then requires status.automated, which only its status patch
	// sets, and fails validation otherwise (controllers/release/adapter.go validateAuthor). The
	// project reads it and never sets it.
	LabelAutomated = "release.appstudio.openshift.io/automated"
	// AnnotationRunID marks the Release with the create-release run that made it, so that a run
	// whose create was applied but whose answer was lost recognises its own Release on retry.
	AnnotationRunID = "release-to-prod/run-id"
	// AnnotationStartedBy records who started the run that created the Release: "automation"
	// (a merge-triggered PipelineRun) or "person". The project's own key, read by no Konflux
	// service.
	AnnotationStartedBy = "release-to-prod/started-by"
	// LabelCreatedBy is CreatedBy on every Release the project creates.
	LabelCreatedBy = "app.kubernetes.io/created-by"
	CreatedBy      = "release-to-prod"
	// The run's record, carried by the Release from its creation: where the history lives when
	// the run's ServiceAccount may not write ConfigMaps (hosted Konflux). The PipelineRun is a
	// label too, when its name is a valid label value, so that a run's Release can be selected.
	LabelPipelineRun      = "release-to-prod/pipelinerun"
	AnnotationPipelineRun = "release-to-prod/pipelinerun"
	// AnnotationGates is the preflight's gate summary (free text, bounded).
	AnnotationGates = "release-to-prod/gates"
)

// MaxGatesAnnotation bounds the gate summary a Release carries: a record, not a log.
const MaxGatesAnnotation = 512

// Release status conditions (konflux-ci/release-service api/v1alpha1/release_conditions.go).
// Released is the outcome: True/Succeeded, False/Failed, or False/Progressing while it runs.
// Each processing phase has its own condition, True (Succeeded or Skipped) or False (Failed, or
// Progressing); the phases run tenant, managed, final, and only the managed pipeline touches
// production.
const (
	ConditionReleased        = "Released"
	ConditionValidated       = "Validated"
	ConditionTenantPipeline  = "TenantPipelineProcessed"
	ConditionManagedPipeline = "ManagedPipelineProcessed"
	ConditionFinalPipeline   = "FinalPipelineProcessed"
	// The collectors pipelines run before the tenant and managed ones.
	ConditionTenantCollectors  = "TenantCollectorsPipelineProcessed"
	ConditionManagedCollectors = "ManagedCollectorsPipelineProcessed"
	reasonProgressing          = "Progressing"
	reasonSkipped              = "Skipped"
	reasonFailed               = "Failed"
)

// Managed pipeline attempt failure reasons (release_conditions.go).
const (
	AttemptOOMKill            = "OOMKill"
	AttemptPipelineRunTimeout = "PipelineRunTimeout"
	AttemptTaskRunTimeout     = "TaskRunTimeout"
)

// MaxNameLength is the longest Release (and label value) name the API accepts.
const MaxNameLength = 63

// Release is the part of a Konflux Release the project reads.
type Release struct {
	Name        string
	Snapshot    string
	ReleasePlan string
	Labels      map[string]string
	Annotations map[string]string
	RunID       string // AnnotationRunID
	Automated   bool   // status.automated: integration-service created it
	Author      string // status.attribution.author
	Created     time.Time
	Completed   time.Time // zero while running
	Conditions  []Condition
	Attempts    []PipelineAttempt
	// FailedPostValidation is status.validation.failedPostValidation: the release service failed
	// the Release's validation after it had passed, possibly with a managed PipelineRun running.
	FailedPostValidation bool
}

// PipelineAttempt is one run of the managed release pipeline.
type PipelineAttempt struct {
	PipelineRun   string // namespace/name
	Status        string
	FailureReason string // Error, OOMKill, PipelineRunTimeout, TaskRunTimeout
	LastTask      string
	LastStep      string
}

func releaseFrom(u *unstructured.Unstructured) Release {
	automated, _, _ := unstructured.NestedBool(u.Object, "status", "automated")
	postValidation, _, _ := unstructured.NestedBool(u.Object, "status", "validation", "failedPostValidation")
	r := Release{
		Name:        u.GetName(),
		Snapshot:    str(u, "spec", "snapshot"),
		ReleasePlan: str(u, "spec", "releasePlan"),
		Labels:      u.GetLabels(),
		Annotations: u.GetAnnotations(),
		RunID:       u.GetAnnotations()[AnnotationRunID],
		Automated:   automated,
		Author:      str(u, "status", "attribution", "author"),
		Created:     u.GetCreationTimestamp().Time,
		Conditions:  conditions(u),

		FailedPostValidation: postValidation,
	}
	if t, err := time.Parse(time.RFC3339, str(u, "status", "completionTime")); err == nil {
		r.Completed = t
	}
	raw, _, _ := unstructured.NestedSlice(u.Object, "status", "managedPipelineAttempts")
	for _, a := range raw {
		m, ok := a.(map[string]any)
		if !ok {
			continue
		}
		get := func(k string) string { s, _ := m[k].(string); return s }
		r.Attempts = append(r.Attempts, PipelineAttempt{PipelineRun: get("pipelineRun"), Status: get("status"),
			FailureReason: get("failureReason"), LastTask: get("lastTask"), LastStep: get("lastStep")})
	}
	if len(r.Attempts) == 0 {
		// Releases written before managedPipelineAttempts existed name the run here.
		if pr := str(u, "status", "managedProcessing", "pipelineRun"); pr != "" {
			r.Attempts = []PipelineAttempt{{PipelineRun: pr}}
		}
	}
	return r
}

// Condition returns the condition of type t, if present.
func (r *Release) Condition(t string) (Condition, bool) { return findCondition(r.Conditions, t) }

// Done reports whether the release service has finished the Release, and how (its
// HasReleaseFinished and IsReleased).
func (r *Release) Done() (done, succeeded bool) {
	c, ok := r.Condition(ConditionReleased)
	switch {
	case !ok:
		return false, false
	case c.Status == "True":
		return true, true
	case c.Status == "False" && c.Reason != reasonProgressing:
		return true, false
	}
	return false, false
}

// ManagedSucceeded reports whether the managed pipeline — the one that pushes to production —
// succeeded (ManagedPipelineProcessed True, not Skipped). From then on the content is in
// production whatever happens to the final pipeline, so the commit must never be released
// again through this plan.
func (r *Release) ManagedSucceeded() bool {
	c, ok := r.Condition(ConditionManagedPipeline)
	return ok && c.Status == "True" && c.Reason != reasonSkipped
}

// InProduction reports whether the Release put the commit in production: it succeeded, or its
// managed pipeline did and a later phase failed.
func (r *Release) InProduction() bool {
	_, ok := r.Done()
	return ok || r.ManagedSucceeded()
}

// ManagedPipelineRun is the managed PipelineRun of the Release's last attempt, "" when none was
// recorded.
func (r *Release) ManagedPipelineRun() string {
	for i := len(r.Attempts) - 1; i >= 0; i-- {
		if r.Attempts[i].PipelineRun != "" {
			return r.Attempts[i].PipelineRun
		}
	}
	return ""
}

// Doubt says why a Release that did not succeed may still have reached production, and what a
// person must check; ok is false when nothing says so. The release service (75576be) fails a
// Release without stopping a managed PipelineRun that already runs:
//   - status.validation.failedPostValidation: re-validation failed after processing began (an
//     RPA switched to block-releases, a policy changed); Released=False/Failed follows;
//   - the last managed attempt is still Progressing while the Release is finished;
//   - ManagedPipelineProcessed=True/Skipped although a managed PipelineRun was recorded (the
//     release service marks the phase Skipped once the Release failed, whatever the run does);
//   - a collectors pipeline (TenantCollectorsPipelineProcessed, ManagedCollectorsPipelineProcessed)
//     failed: the Release is failed while what the other pipelines did is not accounted for.
//
// A Release that succeeded (Released=True) is never in doubt.
func (r *Release) Doubt() (why, check string, ok bool) {
	if done, succeeded := r.Done(); succeeded || !done && !r.FailedPostValidation {
		return "", "", false
	}
	pr := r.ManagedPipelineRun()
	checkRun := "whether managed PipelineRun " + pr + " (in the managed namespace) pushed the content: its TaskRuns and the production registry"
	if pr == "" {
		checkRun = "whether a managed PipelineRun of the Release ran and pushed the content (kubectl get release " + r.Name + " -o yaml, then the managed namespace's PipelineRuns)"
	}
	last := PipelineAttempt{}
	if n := len(r.Attempts); n > 0 {
		last = r.Attempts[n-1]
	}
	managed, _ := r.Condition(ConditionManagedPipeline)
	switch {
	case r.FailedPostValidation:
		v, _ := r.Condition(ConditionValidated)
		return "the release service failed its validation after processing had begun (status.validation.failedPostValidation: " + clip(v.Message, 200) + "); it does not stop a managed PipelineRun that already runs", checkRun, true
	case last.Status == reasonProgressing:
		return "it is finished but its last managed pipeline attempt (PipelineRun " + last.PipelineRun + ") is still Progressing", checkRun + ", and whether it is still running", true
	case managed.Status == "True" && managed.Reason == reasonSkipped && pr != "":
		return "its managed pipeline is marked Skipped although managed PipelineRun " + pr + " was started", checkRun, true
	}
	for _, c := range []struct{ cond, name string }{{ConditionTenantCollectors, "tenant collectors"}, {ConditionManagedCollectors, "managed collectors"}} {
		if m, found := r.Condition(c.cond); found && m.Status == "False" && m.Reason == reasonFailed {
			return "its " + c.name + " pipeline failed (" + c.cond + "=False: " + clip(m.Message, 200) + ")", checkRun + ", and the " + c.name + " PipelineRun's logs", true
		}
	}
	return "", "", false
}

// Doubtful reports whether Doubt finds a reason.
func (r *Release) Doubtful() bool {
	_, _, ok := r.Doubt()
	return ok
}

// DoubtError is the known failure of a Release that may have reached production.
func (r *Release) DoubtError(namespace string) error {
	why, check, _ := r.Doubt()
	return failure.New(failure.ReleaseMayBeInProduction, map[string]string{"release": r.Name, "why": why, "check": check, "namespace": namespace, "snapshot": r.Snapshot},
		"Release %s (Snapshot %s) did not succeed, but its content may be in production: %s", r.Name, r.Snapshot, why)
}

// Phase describes where the Release is, for progress lines.
func (r *Release) Phase() string {
	c, ok := r.Condition(ConditionReleased)
	if !ok {
		return "waiting for the release service"
	}
	phase := c.Reason
	if phase == "" {
		phase = c.Status
	}
	for _, p := range []struct{ cond, name string }{{ConditionTenantPipeline, "tenant"}, {ConditionManagedPipeline, "managed"}, {ConditionFinalPipeline, "final"}} {
		if m, ok := r.Condition(p.cond); ok && m.Reason != "" && m.Reason != reasonSkipped {
			phase += ", " + p.name + " pipeline " + m.Reason
		}
	}
	return phase
}

// Failure explains a failed Release through the catalog, the way the release service writes it:
// a Validated=False message when it refused the Release; else the first processing phase that
// failed (tenant, managed, final) with the managed pipeline's last attempt. After the managed
// pipeline succeeded the content is in production, so the advice names what failed after it and
// never suggests releasing again.
func (r *Release) Failure(namespace string) error {
	facts := map[string]string{"release": r.Name, "namespace": namespace}
	if v, ok := r.Condition(ConditionValidated); ok && v.Status == "False" {
		facts["condition"], facts["message"] = ConditionValidated, v.Message
		return failure.New(failure.ReleaseValidationFailed, facts, "Release %s failed validation: %s", r.Name, v.Message)
	}
	released, _ := r.Condition(ConditionReleased)
	phaseFailed := func(cond string) (Condition, bool) {
		c, ok := r.Condition(cond)
		return c, ok && c.Status == "False" && c.Reason != reasonProgressing
	}
	if r.ManagedSucceeded() {
		phase, msg := "final", released.Message
		if c, ok := phaseFailed(ConditionFinalPipeline); ok {
			msg = c.Message
		}
		facts["phase"], facts["message"] = phase, msg
		return failure.New(failure.ReleaseFailedAfterProduction, facts,
			"Release %s: the managed pipeline succeeded (the content is in production) but the %s pipeline failed: %s", r.Name, phase, msg)
	}
	if c, ok := phaseFailed(ConditionTenantPipeline); ok {
		facts["pipeline"], facts["failure_reason"], facts["message"] = "tenant release pipeline (in this namespace)", "Failed", c.Message
		facts["hint"] = "read the logs of the failed task of the tenant pipeline's PipelineRun in namespace " + namespace + " and fix its cause (it runs the ReleasePlan's spec.tenantPipeline)"
		return failure.New(failure.ReleasePipelineFailed, facts, "Release %s failed in its tenant pipeline: %s", r.Name, c.Message)
	}
	msg := ""
	if m, ok := phaseFailed(ConditionManagedPipeline); ok {
		msg = m.Message
	}
	if msg == "" {
		msg = released.Message
	}
	facts["message"] = msg
	var last PipelineAttempt
	if n := len(r.Attempts); n > 0 {
		last = r.Attempts[n-1]
	}
	if last.PipelineRun != "" {
		facts["pipeline"] = "managed release PipelineRun " + last.PipelineRun
	} else {
		facts["pipeline"] = "managed release pipeline (no PipelineRun was recorded)"
	}
	reason := last.FailureReason
	if reason == "" {
		reason = "Failed"
	}
	facts["failure_reason"] = reason
	facts["hint"] = failureHint(last)
	where := ""
	if last.LastTask != "" {
		where = " in task " + last.LastTask
		if last.LastStep != "" {
			where += ", step " + last.LastStep
		}
	}
	return failure.New(failure.ReleasePipelineFailed, facts, "Release %s failed (%s%s): %s", r.Name, reason, where, msg)
}

func failureHint(a PipelineAttempt) string {
	task := a.LastTask
	if task == "" {
		task = "the failed task"
	}
	switch a.FailureReason {
	case AttemptOOMKill:
		return fmt.Sprintf("%s of the managed pipeline ran out of memory (OOMKill): ask the owners of the managed namespace to raise its memory limit in the ReleasePlanAdmission", task)
	case AttemptTaskRunTimeout:
		return fmt.Sprintf("task %s of the managed pipeline timed out (TaskRunTimeout): check whether a service it calls is slow or down, or ask for a longer task timeout in the ReleasePlanAdmission", task)
	case AttemptPipelineRunTimeout:
		return fmt.Sprintf("the managed pipeline timed out as a whole in %s (PipelineRunTimeout): ask the owners of the managed namespace for a longer pipeline timeout in the ReleasePlanAdmission, or check what made it slow", task)
	}
	if a.PipelineRun == "" {
		return "the release service failed the Release before a managed PipelineRun ran: read the Release's status conditions (kubectl get release -o yaml) and fix what they name"
	}
	return fmt.Sprintf("read the logs of %s in PipelineRun %s (managed namespace) and fix its cause, or ask the release engineers who own it", task, a.PipelineRun)
}

// ReleaseRequest is what create-release asks Konflux for.
type ReleaseRequest struct {
	Component, Application, SHA, Snapshot, ReleasePlan string
	// ComponentGroup replaces Application for a componentGroup's Release.
	ComponentGroup string
	// Automated records that automation started the run (AnnotationStartedBy); it never sets
	// LabelAutomated, which only integration-service may.
	Automated bool
	// RunID identifies this run (AnnotationRunID); empty for none.
	RunID string
	// Attempt numbers the Releases of this commit through this plan: 1 for the first; a new
	// one after Releases that failed gets the next number, and so another deterministic name.
	Attempt int
	// PipelineRun and Gates are the run's record (LabelPipelineRun, AnnotationGates); empty
	// for none.
	PipelineRun, Gates string
}

// ReleaseName is the deterministic name of the Release of component at sha through plan: a
// readable prefix and a hash of the three, at most 63 characters. Two runs racing for the same
// commit compute the same name, so the API server lets exactly one create it.
func ReleaseName(component, sha, plan string) string {
	return ReleaseNameAttempt(component, sha, plan, 1)
}

// ReleaseNameAttempt is ReleaseName of the attempt-th Release of the commit through plan: after
// a Release failed, racing runs that see the same failed Releases compute the same next name.
func ReleaseNameAttempt(component, sha, plan string, attempt int) string {
	key := component + "\x00" + sha + "\x00" + plan
	if attempt > 1 {
		key += "\x00" + strconv.Itoa(attempt)
	}
	sum := sha256.Sum256([]byte(key))
	suffix := "-" + shortSHA(sha) + "-" + hex.EncodeToString(sum[:])[:10]
	prefix := dnsLabel(component)
	if max := MaxNameLength - len(suffix); len(prefix) > max {
		prefix = strings.TrimRight(prefix[:max], "-")
	}
	if prefix == "" {
		prefix = "release"
	}
	return prefix + suffix
}

func shortSHA(sha string) string {
	s := dnsLabel(sha)
	if len(s) > 7 {
		s = s[:7]
	}
	if s == "" {
		s = "nosha"
	}
	return s
}

// dnsLabel keeps lower-case letters, digits and inner dashes.
func dnsLabel(s string) string {
	b := make([]byte, 0, len(s))
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b = append(b, byte(r))
		case len(b) > 0 && b[len(b)-1] != '-':
			b = append(b, '-')
		}
	}
	return strings.TrimRight(string(b), "-")
}

// Name is ReleaseNameAttempt of the request.
func (r ReleaseRequest) Name() string {
	return ReleaseNameAttempt(r.Component, r.SHA, r.ReleasePlan, r.Attempt)
}

// Object is the Release to create in namespace.
func (r ReleaseRequest) Object(namespace string) *unstructured.Unstructured {
	startedBy := "person"
	if r.Automated {
		startedBy = "automation"
	}
	annotations := map[string]string{AnnotationStartedBy: startedBy}
	labels := map[string]any{
		LabelSHA:         r.SHA,
		LabelComponent:   r.Component,
		LabelReleasePlan: r.ReleasePlan,
		LabelSnapshot:    r.Snapshot,
		LabelCreatedBy:   CreatedBy,
	}
	if r.Application != "" {
		labels[LabelApplication] = r.Application
	}
	if r.ComponentGroup != "" {
		labels[LabelComponentGroup] = r.ComponentGroup
	}
	if r.RunID != "" {
		annotations[AnnotationRunID] = r.RunID
	}
	if r.PipelineRun != "" {
		annotations[AnnotationPipelineRun] = r.PipelineRun
		if len(validation.IsValidLabelValue(r.PipelineRun)) == 0 {
			labels[LabelPipelineRun] = r.PipelineRun
		}
	}
	if g := strings.TrimSpace(r.Gates); g != "" {
		annotations[AnnotationGates] = knowledge.Text(g, MaxGatesAnnotation)
	}
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": ReleasesResource.GroupVersion().String(),
		"kind":       "Release",
		"metadata": map[string]any{
			"name":      r.Name(),
			"namespace": namespace,
			"labels":    labels,
		},
		"spec": map[string]any{
			"snapshot":    r.Snapshot,
			"releasePlan": r.ReleasePlan,
		},
	}}
	u.SetAnnotations(annotations)
	return u
}

// CreateRelease creates the Release of the request. When one of that name exists already it
// is returned with created false and no error: the caller compares it.
func (c *Client) CreateRelease(ctx context.Context, req ReleaseRequest) (rel *Release, created bool, err error) {
	u, err := c.Dynamic.Resource(ReleasesResource).Namespace(c.Namespace).Create(ctx, req.Object(c.Namespace), metav1.CreateOptions{FieldManager: "release-to-prod"})
	if err == nil {
		r := releaseFrom(u)
		return &r, true, nil
	}
	if !apierrors.IsAlreadyExists(err) {
		return nil, false, c.APIError(fmt.Errorf("creating: %w", err), "Release", ReleasesResource.Resource, req.Name())
	}
	existing, err := c.GetRelease(ctx, req.Name())
	if err != nil {
		return nil, false, fmt.Errorf("reading the Release that already exists: %w", err)
	}
	return existing, false, nil
}

// GetRelease returns the Release name.
func (c *Client) GetRelease(ctx context.Context, name string) (*Release, error) {
	return getAs(ctx, c, ReleasesResource, "Release", name, releaseFrom)
}

// ListReleases lists the Releases matching a label selector, page by page.
func (c *Client) ListReleases(ctx context.Context, selector string) ([]Release, error) {
	return listAs(ctx, c, ReleasesResource, "Release", selector, releaseFrom)
}

// EachPipelineRun calls fn with every PipelineRun in the namespace, page by page (the release
// history of runs that created no Release is in their results).
func (c *Client) EachPipelineRun(ctx context.Context, fn func(*unstructured.Unstructured)) error {
	return c.list(ctx, PipelineRunsResource, "PipelineRun", "", fn)
}
