// Command create-release creates the Konflux Release and waits for it: see konflux.RunCreateRelease.
package main

import (
	"github.com/release-to-prod/release-to-prod/pkg/konflux"
	"github.com/release-to-prod/release-to-prod/pkg/step"
)

func main() { step.Main("create-release", &konflux.CreateReleaseConfig{}, konflux.RunCreateRelease) }
