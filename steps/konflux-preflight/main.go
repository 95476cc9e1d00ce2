// Command konflux-preflight is the Konflux gate step: see package preflight.
package main

import (
	"github.com/release-to-prod/release-to-prod/pkg/preflight"
	"github.com/release-to-prod/release-to-prod/pkg/step"
)

func main() { step.Main("konflux-preflight", &preflight.Config{}, preflight.Run) }
