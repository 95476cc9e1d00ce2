// Command check-alerts is the alerts gate: it blocks a production release while production
// alerts are firing. See pkg/gates/alerts.
package main

import (
	"github.com/release-to-prod/release-to-prod/pkg/gates/alerts"
	"github.com/release-to-prod/release-to-prod/pkg/step"
)

func main() { step.Main("check-alerts", &alerts.Config{}, alerts.Run) }
