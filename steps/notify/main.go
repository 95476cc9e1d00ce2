// Command notify posts the release's outcome to a Slack incoming webhook; see package slack.
package main

import (
	"github.com/release-to-prod/release-to-prod/pkg/slack"
	"github.com/release-to-prod/release-to-prod/pkg/step"
)

func main() { step.Main("notify", &slack.Config{}, slack.Run) }
