package tekton

import (
	"context"
	"errors"
	"fmt"

	"github.com/tektoncd/pipeline/pkg/apis/config"
	"knative.dev/pkg/apis"
)

// Context returns a context holding the Tekton configuration the YAML is checked against: the
// defaults of a Tekton v1.x installation with `enable-api-fields: stable`, the strictest
// setting and the one every cluster that runs this Pipeline accepts. StepActions, step results
// and step onError are stable features; nothing beta or alpha may be used. Validation runs as
// the admission webhook runs it, within a create.
func Context(ctx context.Context) context.Context {
	flags, err := config.NewFeatureFlagsFromMap(map[string]string{"enable-api-fields": "stable"})
	if err != nil {
		// The map is a constant: an error here is a programming error caught by the tests.
		flags = config.DefaultFeatureFlags.DeepCopy()
	}
	cfg := config.FromContextOrDefaults(ctx)
	cfg.FeatureFlags = flags
	return apis.WithinCreate(config.ToContext(ctx, cfg))
}

// Validate sets the defaults of every object and validates it with Tekton's own validation,
// as the admission webhook does. Objects are modified in place (defaults applied).
func (r *Repo) Validate(ctx context.Context) error {
	ctx = Context(ctx)
	var errs []error
	for _, name := range Names(r.StepActions) {
		sa := r.StepActions[name]
		sa.SetDefaults(ctx)
		if err := sa.Validate(ctx); err != nil {
			errs = append(errs, &FileError{r.Path["StepAction/"+name], fmt.Errorf("stepaction %s: %w", name, err)})
		}
	}
	for _, name := range Names(r.Tasks) {
		t := r.Tasks[name]
		t.SetDefaults(ctx)
		if err := t.Validate(ctx); err != nil {
			errs = append(errs, &FileError{r.Path["Task/"+name], fmt.Errorf("task %s: %w", name, err)})
		}
	}
	for _, name := range Names(r.Pipelines) {
		p := r.Pipelines[name]
		p.SetDefaults(ctx)
		if err := p.Validate(ctx); err != nil {
			errs = append(errs, &FileError{r.Path["Pipeline/"+name], fmt.Errorf("pipeline %s: %w", name, err)})
		}
	}
	return errors.Join(errs...)
}
