// Command record-history appends the run to the release history ConfigMap: see package history.
package main

import (
	"github.com/release-to-prod/release-to-prod/pkg/actions/history"
	"github.com/release-to-prod/release-to-prod/pkg/step"
)

func main() { step.Main("record-history", &history.RecordConfig{}, history.RunRecord) }
