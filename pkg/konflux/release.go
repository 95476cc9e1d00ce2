package konflux

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/release-to-prod/release-to-prod/pkg/failure"
)

// Labels on Releases. The release service's webhook sets the releasePlan and snapshot labels
// itself; the project sets them too so that its own lookups work where no webhook runs.
const (
	LabelReleasePlan = "release.appstudio.openshift.io/releasePlan"
	LabelSnapshot    = "release.appstudio.openshift.io/snapshot"
	LabelAutomated   = "release.appstudio.openshift.io/automated"
	// AnnotationRunID marks the Release with the create-release run that made it, so that a run
	// whose create was applied but whose answer was lost recognises its own Release on retry.
	AnnotationRunID = "release-to-prod/run-id"
)

// Release status conditions (konflux-ci/release-service). Released is the outcome:
// True/Succeeded, False/Failed, or False/Progressing while it runs.
const (
	ConditionReleased        = "Released"
	ConditionValidated       = "Validated"
	ConditionManagedPipeline = "ManagedPipelineProcessed"
)

// MaxNameLength is the longest Release (and label value) name the API accepts.
const MaxNameLength = 63

// Release is the part of a Konflux Release the project reads.
type Release struct {
	Name        string
	Snapshot    string
	ReleasePlan string
	Labels      map[string]string
	RunID       string // AnnotationRunID
	Created     time.Time
	Completed   time.Time // zero while running
	Conditions  []Condition
	Attempts    []PipelineAttempt
}

// PipelineAttempt is one run of the managed release pipeline.
type PipelineAttempt struct {
	PipelineRun   string // namespace/name
	Status        string
	FailureReason string // Error, OOMKill, Timeout
	LastTask      string
	LastStep      string
}

func releaseFrom(u *unstructured.Unstructured) Release {
	r := Release{
		Name:        u.GetName(),
		Snapshot:    str(u, "spec", "snapshot"),
		ReleasePlan: str(u, "spec", "releasePlan"),
		Labels:      u.GetLabels(),
		RunID:       u.GetAnnotations()[AnnotationRunID],
		Created:     u.GetCreationTimestamp().Time,
		Conditions:  conditions(u),
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
	return r
}

// Condition returns the condition of type t, if present.
func (r *Release) Condition(t string) (Condition, bool) { return findCondition(r.Conditions, t) }

// Done reports whether the release service has finished the Release, and how.
func (r *Release) Done() (done, succeeded bool) {
	c, ok := r.Condition(ConditionReleased)
	switch {
	case !ok:
		return false, false
	case c.Status == "True":
		return true, true
	case c.Status == "False" && c.Reason != "Progressing":
		return true, false
	}
	return false, false
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
	if m, ok := r.Condition(ConditionManagedPipeline); ok && m.Reason != "" {
		phase += ", managed pipeline " + m.Reason
	}
	return phase
}

// Failure explains a failed Release through the catalog: the validation message when the
// release service rejected it, else the managed pipeline's failure reason and message.
func (r *Release) Failure(namespace string) error {
	facts := map[string]string{"release": r.Name, "namespace": namespace}
	if v, ok := r.Condition(ConditionValidated); ok && v.Status == "False" {
		facts["condition"], facts["message"] = ConditionValidated, v.Message
		return failure.New(failure.ReleaseValidationFailed, facts, "Release %s failed validation: %s", r.Name, v.Message)
	}
	msg := ""
	if m, ok := r.Condition(ConditionManagedPipeline); ok && m.Status == "False" {
		msg = m.Message
	}
	if c, ok := r.Condition(ConditionReleased); ok && msg == "" {
		msg = c.Message
	}
	facts["message"] = msg
	var last PipelineAttempt
	if n := len(r.Attempts); n > 0 {
		last = r.Attempts[n-1]
		facts["pipeline_run"] = last.PipelineRun
		facts["failure_reason"] = last.FailureReason
		facts["hint"] = failureHint(last)
	}
	where := ""
	if last.LastTask != "" {
		where = " in task " + last.LastTask
		if last.LastStep != "" {
			where += ", step " + last.LastStep
		}
	}
	reason := last.FailureReason
	if reason == "" {
		reason = "Failed"
	}
	return failure.New(failure.ReleasePipelineFailed, facts, "Release %s failed (%s%s): %s", r.Name, reason, where, msg)
}

func failureHint(a PipelineAttempt) string {
	task := a.LastTask
	if task == "" {
		task = "the failed task"
	}
	switch a.FailureReason {
	case "OOMKill":
		return fmt.Sprintf("%s of the managed pipeline ran out of memory (OOMKill): ask the owners of the managed namespace to raise its memory limit in the ReleasePlanAdmission", task)
	case "Timeout":
		return fmt.Sprintf("the managed pipeline timed out in %s: check whether a service it calls is slow or down, or ask for a longer timeout in the ReleasePlanAdmission", task)
	}
	return fmt.Sprintf("read the logs of %s in PipelineRun %s (managed namespace) and fix its cause, or ask the release engineers who own it", task, a.PipelineRun)
}

// ReleaseRequest is what create-release asks Konflux for.
type ReleaseRequest struct {
	Component, Application, SHA, Snapshot, ReleasePlan string
	Automated                                          bool
	// RunID identifies this run (AnnotationRunID); empty for none.
	RunID string
}

// ReleaseName is the deterministic name of the Release of component at sha through plan: a
// readable prefix and a hash of the three, at most 63 characters. Two runs racing for the same
// commit compute the same name, so the API server lets exactly one create it.
func ReleaseName(component, sha, plan string) string {
	sum := sha256.Sum256([]byte(component + "\x00" + sha + "\x00" + plan))
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

// Name is ReleaseName of the request.
func (r ReleaseRequest) Name() string { return ReleaseName(r.Component, r.SHA, r.ReleasePlan) }

// Object is the Release to create in namespace.
func (r ReleaseRequest) Object(namespace string) *unstructured.Unstructured {
	automated := "false"
	if r.Automated {
		automated = "true"
	}
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": ReleasesResource.GroupVersion().String(),
		"kind":       "Release",
		"metadata": map[string]any{
			"name":      r.Name(),
			"namespace": namespace,
			"labels": map[string]any{
				LabelSHA:                       r.SHA,
				LabelComponent:                 r.Component,
				LabelApplication:               r.Application,
				LabelReleasePlan:               r.ReleasePlan,
				LabelSnapshot:                  r.Snapshot,
				LabelAutomated:                 automated,
				"app.kubernetes.io/created-by": "release-to-prod",
			},
		},
		"spec": map[string]any{
			"snapshot":    r.Snapshot,
			"releasePlan": r.ReleasePlan,
		},
	}}
	if r.RunID != "" {
		u.SetAnnotations(map[string]string{AnnotationRunID: r.RunID})
	}
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
		return nil, false, c.apiError(fmt.Errorf("creating: %w", err), "Release", ReleasesResource.Resource, req.Name())
	}
	existing, err := c.GetRelease(ctx, req.Name())
	if err != nil {
		return nil, false, fmt.Errorf("reading the Release that already exists: %w", err)
	}
	return existing, false, nil
}

// GetRelease returns the Release name.
func (c *Client) GetRelease(ctx context.Context, name string) (*Release, error) {
	u, err := c.get(ctx, ReleasesResource, "Release", name)
	if err != nil {
		return nil, err
	}
	r := releaseFrom(u)
	return &r, nil
}

// ListReleases lists the Releases matching a label selector, page by page.
func (c *Client) ListReleases(ctx context.Context, selector string) ([]Release, error) {
	var out []Release
	err := c.list(ctx, ReleasesResource, "Release", selector, func(u *unstructured.Unstructured) {
		out = append(out, releaseFrom(u))
	})
	return out, err
}
