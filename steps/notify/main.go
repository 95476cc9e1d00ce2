// Command notify posts the release's outcome to a Slack incoming webhook; see package notify.
package main

import (
	"github.com/release-to-prod/release-to-prod/pkg/actions/notify"
	"github.com/release-to-prod/release-to-prod/pkg/step"
)

func main() { step.Main("notify", &notify.Config{}, notify.Run) }
