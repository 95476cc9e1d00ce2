// Command gate-verdict reads the exit codes of the gate steps and fails if any gate failed: see
// package verdict.
package main

import (
	"github.com/release-to-prod/release-to-prod/pkg/gates/verdict"
	"github.com/release-to-prod/release-to-prod/pkg/step"
)

func main() { step.Main("gate-verdict", &verdict.Config{}, verdict.Run) }
