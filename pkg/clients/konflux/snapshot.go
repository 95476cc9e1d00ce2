package konflux

import (
	"context"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Labels Konflux puts on Snapshots (and copies onto Releases).
const (
	LabelComponent = "appstudio.openshift.io/component"
	LabelSHA       = "pac.test.appstudio.openshift.io/sha"
	LabelEventType = "pac.test.appstudio.openshift.io/event-type"
	// LabelApplication is set on Snapshots by the integration service and on Releases by us.
	LabelApplication = "appstudio.openshift.io/application"
	// LabelComponentGroup is set on Snapshots of a ComponentGroup by the integration service.
	LabelComponentGroup = "appstudio.openshift.io/component-group"
)

// pageSize bounds each list call so memory stays flat however many objects a namespace holds.
const pageSize = 100

// Condition is a status condition.
type Condition struct {
	Type, Status, Reason, Message string
}

// Snapshot is the part of a Konflux Snapshot the project reads.
type Snapshot struct {
	Name           string
	Created        time.Time
	EventType      string
	Application    string // spec.application; empty for a Snapshot of a componentGroup
	ComponentGroup string // spec.componentGroup
	Labels         map[string]string
	Annotations    map[string]string
	Images         map[string]string // component name → containerImage (the first entry of each)
	// Components are spec.components as listed: a component may appear more than once, one
	// entry per version, told apart by source.git.revision.
	Components []SnapshotComponent
	Conditions []Condition
}

// SnapshotComponent is one entry of a Snapshot's spec.components.
type SnapshotComponent struct {
	Name, Image string
	Revision    string // source.git.revision: the commit the image was built from, when recorded
}

// Condition returns the condition of type t, if present.
func (s *Snapshot) Condition(t string) (Condition, bool) {
	return findCondition(s.Conditions, t)
}

// trimmed keeps what judging the order of releases reads (name, build time, component and SHA
// labels, components), so that thousands can be held in a step's memory.
func (s *Snapshot) trimmed() *Snapshot {
	t := &Snapshot{Name: s.Name, Created: s.Created, Images: s.Images, Components: s.Components,
		Labels: map[string]string{LabelComponent: s.Labels[LabelComponent], LabelSHA: s.Labels[LabelSHA]}}
	if v, ok := s.Annotations[AnnotationBuildStartTime]; ok {
		t.Annotations = map[string]string{AnnotationBuildStartTime: v}
	}
	return t
}

// ListSnapshots lists the Snapshots of component built from sha, filtered by the API server
// with a label selector and read page by page.
func (c *Client) ListSnapshots(ctx context.Context, component, sha string) ([]Snapshot, error) {
	sel := labels.Set{LabelComponent: component, LabelSHA: sha}.String()
	return listAs(ctx, c, SnapshotsResource, "Snapshot", sel, snapshotFrom)
}

// GetSnapshot returns the Snapshot name.
func (c *Client) GetSnapshot(ctx context.Context, name string) (*Snapshot, error) {
	return getAs(ctx, c, SnapshotsResource, "Snapshot", name, snapshotFrom)
}

func snapshotFrom(u *unstructured.Unstructured) Snapshot {
	s := Snapshot{
		Name:           u.GetName(),
		Created:        u.GetCreationTimestamp().Time,
		Labels:         u.GetLabels(),
		Annotations:    u.GetAnnotations(),
		EventType:      u.GetLabels()[LabelEventType],
		Application:    str(u, "spec", "application"),
		ComponentGroup: str(u, "spec", "componentGroup"),
		Images:         map[string]string{},
		Conditions:     conditions(u),
	}
	comps, _, _ := unstructured.NestedSlice(u.Object, "spec", "components")
	for _, c := range comps {
		m, ok := c.(map[string]any)
		if !ok {
			continue
		}
		name, _ := m["name"].(string)
		img, _ := m["containerImage"].(string)
		rev, _, _ := unstructured.NestedString(m, "source", "git", "revision")
		if name == "" {
			continue
		}
		if _, dup := s.Images[name]; !dup {
			s.Images[name] = img
		}
		s.Components = append(s.Components, SnapshotComponent{Name: name, Image: img, Revision: rev})
	}
	return s
}

// list calls fn for every object matching the label selector, one page at a time.
func (c *Client) list(ctx context.Context, gvr schema.GroupVersionResource, kind, selector string, fn func(*unstructured.Unstructured)) error {
	opts := metav1.ListOptions{LabelSelector: selector, Limit: pageSize}
	for {
		l, err := c.Dynamic.Resource(gvr).Namespace(c.Namespace).List(ctx, opts)
		if err != nil {
			return c.APIError(fmt.Errorf("listing with %q: %w", selector, err), kind, gvr.Resource, "")
		}
		for i := range l.Items {
			fn(&l.Items[i])
		}
		if l.GetContinue() == "" {
			return nil
		}
		opts.Continue = l.GetContinue()
	}
}

func conditions(u *unstructured.Unstructured) []Condition {
	raw, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	out := make([]Condition, 0, len(raw))
	for _, r := range raw {
		m, ok := r.(map[string]any)
		if !ok {
			continue
		}
		get := func(k string) string { s, _ := m[k].(string); return s }
		out = append(out, Condition{Type: get("type"), Status: get("status"), Reason: get("reason"), Message: get("message")})
	}
	return out
}

func findCondition(cs []Condition, t string) (Condition, bool) {
	for _, c := range cs {
		if c.Type == t {
			return c, true
		}
	}
	return Condition{}, false
}
