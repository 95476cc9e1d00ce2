package konflux

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/release-to-prod/release-to-prod/pkg/step"
	"github.com/release-to-prod/release-to-prod/pkg/step/failure"
)

// ConditionMatched is the ReleasePlan condition the release service sets when a
// ReleasePlanAdmission in the target namespace accepts the plan.
const ConditionMatched = "Matched"

// LabelAutoRelease on a ReleasePlan says whether integration-service releases every push
// Snapshot that passes its tests by itself; the release service's webhook sets it to "true" when
// it is missing, and integration-service auto-releases unless it is "false". The annotation of
// the same name, when set, is a CEL expression integration-service evaluates instead.
const LabelAutoRelease = "release.appstudio.openshift.io/auto-release"

// AnnotationShouldRelease carries the build PipelineRun's SHOULD_RELEASE result on a Snapshot:
// "false" stops integration-service auto-releasing it through a label-based plan.
const AnnotationShouldRelease = "test.appstudio.openshift.io/result-should-release"

// ReleasePlan is the part of a Konflux ReleasePlan the project reads.
type ReleasePlan struct {
	Name           string
	Application    string // empty for a plan of a componentGroup
	ComponentGroup string // spec.componentGroup; empty for a plan of an application
	Target         string
	Labels         map[string]string
	Annotations    map[string]string
	Conditions     []Condition
	Admission      string // namespace/name of the matched ReleasePlanAdmission
	Active         bool   // status.releasePlanAdmission.active
}

func releasePlanFrom(u *unstructured.Unstructured) ReleasePlan {
	active, _, _ := unstructured.NestedBool(u.Object, "status", "releasePlanAdmission", "active")
	return ReleasePlan{
		Name:           u.GetName(),
		Application:    str(u, "spec", "application"),
		ComponentGroup: str(u, "spec", "componentGroup"),
		Target:         str(u, "spec", "target"),
		Labels:         u.GetLabels(),
		Annotations:    u.GetAnnotations(),
		Conditions:     conditions(u),
		Admission:      str(u, "status", "releasePlanAdmission", "name"),
		Active:         active,
	}
}

// GetReleasePlan returns the ReleasePlan name.
func (c *Client) GetReleasePlan(ctx context.Context, name string) (*ReleasePlan, error) {
	return getAs(ctx, c, ReleasePlansResource, "ReleasePlan", name, releasePlanFrom)
}

// Owner is what a ReleasePlan releases: an application or a componentGroup (exactly one of the
// two, by the CRD's CEL rule).
type Owner struct {
	Application, ComponentGroup string
}

func (o Owner) String() string {
	if o.ComponentGroup != "" {
		return "componentGroup " + o.ComponentGroup
	}
	return "application " + o.Application
}

// owns reports whether the plan releases o.
func (rp *ReleasePlan) owns(o Owner) bool {
	if o.ComponentGroup != "" {
		return rp.ComponentGroup == o.ComponentGroup
	}
	return rp.Application == o.Application && rp.ComponentGroup == ""
}

func (rp *ReleasePlan) owner() string {
	if rp.ComponentGroup != "" {
		return "componentGroup " + rp.ComponentGroup
	}
	return "application " + rp.Application
}

// ReleasePlansFor lists the ReleasePlans whose spec.application (or spec.componentGroup) is o's.
// Custom resources cannot be filtered on spec fields by the API server, so every plan of the
// namespace is read (page by page; a tenant has a handful) and only the matching ones are kept.
func (c *Client) ReleasePlansFor(ctx context.Context, o Owner) ([]ReleasePlan, error) {
	var out []ReleasePlan
	err := c.list(ctx, ReleasePlansResource, "ReleasePlan", "", func(u *unstructured.Unstructured) {
		if rp := releasePlanFrom(u); rp.owns(o) {
			out = append(out, rp)
		}
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, err
}

// FindReleasePlan returns the ReleasePlan to release o with: the one named, which must be for
// o, else the only one for o.
func (c *Client) FindReleasePlan(ctx context.Context, name string, o Owner) (*ReleasePlan, error) {
	if name != "" {
		rp, err := c.GetReleasePlan(ctx, name)
		if err != nil {
			return nil, err
		}
		if !rp.owns(o) {
			return nil, failure.New(failure.InvalidInput, nil, "ReleasePlan %s is for %s, not %s", name, rp.owner(), o)
		}
		return rp, nil
	}
	plans, err := c.ReleasePlansFor(ctx, o)
	if err != nil {
		return nil, err
	}
	facts := map[string]string{"namespace": c.Namespace, "owner": o.String()}
	switch len(plans) {
	case 0:
		return nil, failure.New(failure.ReleasePlanMissing, facts, "no ReleasePlan for %s in namespace %s", o, c.Namespace)
	case 1:
		return &plans[0], nil
	}
	names := make([]string, len(plans))
	for i, p := range plans {
		names[i] = p.Name
	}
	facts["count"] = strconv.Itoa(len(plans))
	facts["plans"] = strings.Join(names, ", ")
	return nil, failure.New(failure.ReleasePlanAmbiguous, facts, "%d ReleasePlans for %s: %s", len(plans), o, strings.Join(names, ", "))
}

// AutoRelease reports whether integration-service would release snap through the plan by itself
// once its tests pass (loader.GetAutoReleasePlansForApplication, gitops.CanSnapshotBePromoted),
// and why. A CEL expression in the auto-release annotation is not evaluated here: any value but
// "false" is taken as one that may release.
func (rp *ReleasePlan) AutoRelease(snap *Snapshot) (bool, string) {
	if snap != nil && snap.Labels[LabelAutoRelease] == "false" {
		return false, fmt.Sprintf("Snapshot %s is labelled %s=false", snap.Name, LabelAutoRelease)
	}
	if expr, ok := rp.Annotations[LabelAutoRelease]; ok && strings.TrimSpace(expr) != "" {
		if strings.TrimSpace(expr) == "false" {
			return false, fmt.Sprintf("its %s annotation is \"false\"", LabelAutoRelease)
		}
		return true, fmt.Sprintf("its %s annotation %q may release any Snapshot that passes", LabelAutoRelease, clip(expr, 80))
	}
	v, ok := rp.Labels[LabelAutoRelease]
	switch {
	case v == "false":
		return false, fmt.Sprintf("it is labelled %s=false", LabelAutoRelease)
	case snap != nil && snap.Annotations[AnnotationShouldRelease] == "false":
		return false, fmt.Sprintf("the build of Snapshot %s said SHOULD_RELEASE=false", snap.Name)
	case !ok:
		return true, fmt.Sprintf("it has no %s label, and auto-release is on by default", LabelAutoRelease)
	}
	return true, fmt.Sprintf("it is labelled %s=%q", LabelAutoRelease, v)
}

// Auto-release modes (the AUTO_RELEASE setting of check-konflux and create-release).
const (
	AutoReleaseBlock   = "block"
	AutoReleaseObserve = "observe"
)

// ParseAutoRelease reads AUTO_RELEASE: true for observe.
func ParseAutoRelease(v string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "", AutoReleaseBlock:
		return false, nil
	case AutoReleaseObserve:
		return true, nil
	}
	return false, failure.New(failure.InvalidInput, nil, "AUTO_RELEASE %s: use block or observe", quote(v))
}

func clip(s string, n int) string { return step.ClipRunes(s, n) }

// Labels the release service reads on a ReleasePlan and a ReleasePlanAdmission.
const (
	// LabelReleasePlanAdmission names the admission a plan targets by name.
	LabelReleasePlanAdmission = "release.appstudio.openshift.io/releasePlanAdmission"
	// LabelBlockReleases on a ReleasePlanAdmission: the release service refuses Releases only
	// when it is exactly "true" (loader.GetActiveReleasePlanAdmission); its webhook sets "false"
	// when it is missing, and the plan's status.releasePlanAdmission.active is it == "false".
	LabelBlockReleases = "release.appstudio.openshift.io/block-releases"
)

// ReleasePlanAdmissionsResource is the managed namespace's ReleasePlanAdmission.
var ReleasePlanAdmissionsResource = ReleasePlansResource.GroupVersion().WithResource("releaseplanadmissions")

// TenantOnly reports whether the plan has no target (and names no admission): the release
// service then runs its tenant pipeline only and skips the managed one.
func (rp *ReleasePlan) TenantOnly() bool {
	return rp.Target == "" && rp.Labels[LabelReleasePlanAdmission] == ""
}

// PlanReady says whether a Release may be created with the plan, as the release service decides:
// a plan without a target (tenant-only) is usable as it is; else it must be matched
// (Matched=True) to an admission that does not block releases. status.releasePlanAdmission.active
// false is confirmed on the admission itself when it can be read: only block-releases exactly
// "true" blocks. It returns what it found, for the ✓ line.
func (c *Client) PlanReady(ctx context.Context, rp *ReleasePlan) (string, error) {
	if rp.TenantOnly() {
		return "tenant-only: no target, so only its tenant pipeline runs and nothing is admitted to a managed namespace", nil
	}
	err := rp.Ready()
	var fe *failure.Error
	if err == nil || !errors.As(err, &fe) || fe.ID != failure.ReleasePlanInactive {
		return fmt.Sprintf("matched to %s, active", rp.Admission), err
	}
	ns, name, ok := strings.Cut(rp.Admission, "/")
	if !ok {
		return "", err
	}
	u, rerr := c.Dynamic.Resource(ReleasePlanAdmissionsResource).Namespace(ns).Get(ctx, name, getOptions)
	if rerr != nil {
		// Not readable from the tenant (the usual case): the plan's status decides.
		return "", err
	}
	v, found := u.GetLabels()[LabelBlockReleases]
	if v == "true" {
		fe.Facts["label"] = LabelBlockReleases + "=true"
		return "", err
	}
	label := "no " + LabelBlockReleases + " label"
	if found {
		label = fmt.Sprintf("%s=%q", LabelBlockReleases, v)
	}
	return fmt.Sprintf("matched to %s; its status says inactive, but the admission has %s, and only \"true\" blocks", rp.Admission, label), nil
}

// Ready says whether a Release may be created with the plan: Matched=True and the matched
// admission active. The error says which is missing.
func (rp *ReleasePlan) Ready() error {
	facts := map[string]string{"plan": rp.Name, "target": rp.Target, "owner": rp.owner(), "admission": rp.Admission}
	m, ok := findCondition(rp.Conditions, ConditionMatched)
	if !ok || m.Status != "True" {
		status := "missing"
		if ok {
			status = m.Status
			if m.Reason != "" {
				status += " (" + m.Reason + ")"
			}
		}
		facts["status"] = status
		return failure.New(failure.ReleasePlanNotMatched, facts, "ReleasePlan %s is not matched: condition Matched is %s", rp.Name, status)
	}
	if !rp.Active {
		return failure.New(failure.ReleasePlanInactive, facts, "ReleasePlan %s: ReleasePlanAdmission %s is not active", rp.Name, rp.Admission)
	}
	return nil
}
