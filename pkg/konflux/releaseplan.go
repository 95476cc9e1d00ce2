package konflux

import (
	"context"
	"sort"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/release-to-prod/release-to-prod/pkg/failure"
)

// ConditionMatched is the ReleasePlan condition the release service sets when a
// ReleasePlanAdmission in the target namespace accepts the plan.
const ConditionMatched = "Matched"

// ReleasePlan is the part of a Konflux ReleasePlan the project reads.
type ReleasePlan struct {
	Name        string
	Application string // empty for a plan of a componentGroup
	Target      string
	Conditions  []Condition
	Admission   string // namespace/name of the matched ReleasePlanAdmission
	Active      bool   // status.releasePlanAdmission.active
}

func releasePlanFrom(u *unstructured.Unstructured) ReleasePlan {
	active, _, _ := unstructured.NestedBool(u.Object, "status", "releasePlanAdmission", "active")
	return ReleasePlan{
		Name:        u.GetName(),
		Application: str(u, "spec", "application"),
		Target:      str(u, "spec", "target"),
		Conditions:  conditions(u),
		Admission:   str(u, "status", "releasePlanAdmission", "name"),
		Active:      active,
	}
}

// GetReleasePlan returns the ReleasePlan name.
func (c *Client) GetReleasePlan(ctx context.Context, name string) (*ReleasePlan, error) {
	u, err := c.get(ctx, ReleasePlansResource, "ReleasePlan", name)
	if err != nil {
		return nil, err
	}
	rp := releasePlanFrom(u)
	return &rp, nil
}

// ReleasePlansFor lists the ReleasePlans whose spec.application is application. Custom
// resources cannot be filtered on spec fields by the API server, so every plan of the namespace
// is read (page by page; a tenant has a handful) and only the matching ones are kept.
func (c *Client) ReleasePlansFor(ctx context.Context, application string) ([]ReleasePlan, error) {
	var out []ReleasePlan
	err := c.list(ctx, ReleasePlansResource, "ReleasePlan", "", func(u *unstructured.Unstructured) {
		if str(u, "spec", "application") == application {
			out = append(out, releasePlanFrom(u))
		}
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, err
}

// FindReleasePlan returns the ReleasePlan to release application with: the one named, which must
// be for the application, else the only one for the application.
func (c *Client) FindReleasePlan(ctx context.Context, name, application string) (*ReleasePlan, error) {
	if name != "" {
		rp, err := c.GetReleasePlan(ctx, name)
		if err != nil {
			return nil, err
		}
		if rp.Application != application {
			return nil, failure.New(failure.InvalidInput, nil, "ReleasePlan %s is for application %q, not %s", name, rp.Application, application)
		}
		return rp, nil
	}
	plans, err := c.ReleasePlansFor(ctx, application)
	if err != nil {
		return nil, err
	}
	facts := map[string]string{"namespace": c.Namespace, "application": application}
	switch len(plans) {
	case 0:
		return nil, failure.New(failure.ReleasePlanMissing, facts, "no ReleasePlan for application %s in namespace %s", application, c.Namespace)
	case 1:
		return &plans[0], nil
	}
	names := make([]string, len(plans))
	for i, p := range plans {
		names[i] = p.Name
	}
	facts["count"] = strconv.Itoa(len(plans))
	facts["plans"] = strings.Join(names, ", ")
	return nil, failure.New(failure.ReleasePlanAmbiguous, facts, "%d ReleasePlans for application %s: %s", len(plans), application, strings.Join(names, ", "))
}

// Ready says whether a Release may be created with the plan: Matched=True and the matched
// admission active. The error says which is missing.
func (rp *ReleasePlan) Ready() error {
	facts := map[string]string{"plan": rp.Name, "target": rp.Target, "application": rp.Application, "admission": rp.Admission}
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
