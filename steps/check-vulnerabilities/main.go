// Command check-vulnerabilities is the vulnerability gate: it blocks a release while Quay's
// security scan of the pinned image digest reports critical vulnerabilities.
package main

import (
	"github.com/release-to-prod/release-to-prod/pkg/quay"
	"github.com/release-to-prod/release-to-prod/pkg/step"
)

func main() { step.Main("check-vulnerabilities", &quay.Config{}, quay.Run) }
