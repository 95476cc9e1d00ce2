// Command gate-verdict reads the exit codes of the gate steps and fails if any gate failed: see
// package verdict.
package main

import (
	"github.com/release-to-prod/release-to-prod/pkg/step"
	"github.com/release-to-prod/release-to-prod/pkg/verdict"
)

func main() { step.Main("gate-verdict", &verdict.Config{}, verdict.Run) }
