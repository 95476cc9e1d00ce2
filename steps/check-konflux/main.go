// Command check-konflux is the Konflux gate step: see package konflux (pkg/gates/konflux).
package main

import (
	"github.com/release-to-prod/release-to-prod/pkg/gates/konflux"
	"github.com/release-to-prod/release-to-prod/pkg/step"
)

func main() { step.Main("check-konflux", &konflux.Config{}, konflux.Run) }
