package konflux

import (
	"context"
	"time"

	"github.com/release-to-prod/release-to-prod/pkg/step"
)

// Access is how a step reaches the Konflux API. Every step that reads or writes Konflux objects
// embeds it in its config, so that the setting is declared (and described in the Tasks) once.
type Access struct {
	Kubeconfig string `param:"-" env:"KUBECONFIG" desc:"kubeconfig file; empty: in-cluster ServiceAccount"`
}

// Client returns a Client for namespace.
func (a Access) Client(namespace string) (*Client, error) { return NewClient(a.Kubeconfig, namespace) }

// Connect bounds ctx by timeout (the step's TIMEOUT for all its lookups, which must be positive)
// and returns a Client for namespace. cancel is never nil: the caller defers it before looking
// at err.
func (a Access) Connect(ctx context.Context, namespace string, timeout time.Duration) (_ context.Context, cancel context.CancelFunc, _ *Client, err error) {
	if err := step.Positive("TIMEOUT", timeout); err != nil {
		return ctx, func() {}, nil, err
	}
	ctx, cancel = context.WithTimeout(ctx, timeout)
	kc, err := a.Client(namespace)
	return ctx, cancel, kc, err
}

// ReleaseOptions are the release settings the Konflux gate and create-release share: create-release
// checks again, right before it creates the Release, what the gate checked, under the same settings.
type ReleaseOptions struct {
	ComponentGroup  string `check:"name" env:"COMPONENT_GROUP" desc:"Konflux ComponentGroup the component is released with (ReleasePlan and Snapshot spec.componentGroup); empty: the application"`
	AutoRelease     string `env:"AUTO_RELEASE, default=block" desc:"what to do when the ReleasePlan auto-releases: block (stop; the fix is to label it release.appstudio.openshift.io/auto-release=\"false\" so these gates decide) or observe (run the gates, create no Release and report the one integration-service creates)"`
	AllowOutOfOrder string `check:"bool" env:"ALLOW_OUT_OF_ORDER, default=false" desc:"true: release even when a newer commit of the component is in production already (a deliberate roll-back)"`
}

// ReleaseChoices are ReleaseOptions checked.
type ReleaseChoices struct {
	Owner           Owner // the ComponentGroup when one is set, else the application
	Observe         bool  // AUTO_RELEASE=observe
	AllowOutOfOrder bool
}

// Parse checks the options; application is the run's APPLICATION, the owner when no
// ComponentGroup is set.
func (o ReleaseOptions) Parse(application string) (ReleaseChoices, error) {
	var c ReleaseChoices
	names := map[string]string{"APPLICATION": application}
	if o.ComponentGroup != "" {
		names = map[string]string{"COMPONENT_GROUP": o.ComponentGroup}
		c.Owner.ComponentGroup = o.ComponentGroup
	} else {
		c.Owner.Application = application
	}
	err := ValidNames(names)
	if err == nil {
		c.Observe, err = ParseAutoRelease(o.AutoRelease)
	}
	if err == nil {
		c.AllowOutOfOrder, err = step.ParseBool("ALLOW_OUT_OF_ORDER", o.AllowOutOfOrder, false)
	}
	return c, err
}
