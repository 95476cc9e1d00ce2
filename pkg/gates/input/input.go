// Package input is the check-input step: the first step of the release-to-prod Pipeline. It
// checks every param against the rule of the step setting it feeds (step.Check) before any gate
// talks to a service, so that a bad param is reported once, by its name, and the run stops
// there (the step has no onError: continue, so Tekton skips the gates after it).
//
// Its config (package params, config_gen.go) is generated from the other steps' config structs
// by make generate: one string setting per Pipeline param that has a rule. This package does
// not import it, so that the generator, which reads ResultInvalid here, never depends on what
// it generates.
package input

import (
	"context"
	"fmt"

	"github.com/release-to-prod/release-to-prod/pkg/step"
)

// ResultInvalid names the params that are not valid. It is written before the step fails, so
// that the report in the Pipeline's finally reads it from the TaskRun and records why the run
// was rejected.
const ResultInvalid step.ResultName = "INVALID_PARAMS"

// Run is reached only when every param passed its rule (step.Run checks them first).
func Run[C step.Configurable](_ context.Context, s *step.Step, cfg C) error {
	fields, err := step.EnvFields(cfg)
	if err != nil {
		return err
	}
	n := 0
	for _, f := range fields {
		if f.Check != "" {
			n++
		}
	}
	s.OK("%s", fmt.Sprintf("%d params are valid", n))
	return s.Result(ResultInvalid, "")
}
