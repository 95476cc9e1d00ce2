// Command check-vulnerabilities is the vulnerability gate: it blocks a release while Quay's
// security scan of the pinned image digest reports critical vulnerabilities.
package main

import (
	"github.com/release-to-prod/release-to-prod/pkg/gates/vulnerabilities"
	"github.com/release-to-prod/release-to-prod/pkg/step"
)

func main() { step.Main("check-vulnerabilities", &vulnerabilities.Config{}, vulnerabilities.Run) }
