// Command check-known-issues reads the team knowledge store before the gates: see package
// knownissues.
package main

import (
	"github.com/release-to-prod/release-to-prod/pkg/gates/knownissues"
	"github.com/release-to-prod/release-to-prod/pkg/step"
)

func main() { step.Main("check-known-issues", &knownissues.Config{}, knownissues.Run) }
