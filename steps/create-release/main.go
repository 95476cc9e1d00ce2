// Command create-release creates the Konflux Release and waits for it: see package release.
package main

import (
	"github.com/release-to-prod/release-to-prod/pkg/actions/release"
	"github.com/release-to-prod/release-to-prod/pkg/step"
)

func main() { step.Main("create-release", &release.Config{}, release.Run) }
