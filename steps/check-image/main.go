// Command check-image is the image gate step: see package image.
package main

import (
	"github.com/release-to-prod/release-to-prod/pkg/gates/image"
	"github.com/release-to-prod/release-to-prod/pkg/step"
)

func main() { step.Main("check-image", &image.Config{}, image.Run) }
