// Command check-input checks every param of the release-to-prod Pipeline: see package input.
package main

import (
	"github.com/release-to-prod/release-to-prod/pkg/gates/input"
	"github.com/release-to-prod/release-to-prod/pkg/gates/input/params"
	"github.com/release-to-prod/release-to-prod/pkg/step"
)

func main() { step.Main("check-input", &params.Config{}, input.Run[*params.Config]) }
