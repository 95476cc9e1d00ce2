// Command konflux-preflight is the Konflux gate step: see konflux.RunPreflight.
package main

import (
	"github.com/release-to-prod/release-to-prod/pkg/konflux"
	"github.com/release-to-prod/release-to-prod/pkg/step"
)

func main() { step.Main("konflux-preflight", &konflux.PreflightConfig{}, konflux.RunPreflight) }
