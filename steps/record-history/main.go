// Command record-history appends the run to the release history ConfigMap: see konflux.RunRecordHistory.
package main

import (
	"github.com/release-to-prod/release-to-prod/pkg/konflux"
	"github.com/release-to-prod/release-to-prod/pkg/step"
)

func main() { step.Main("record-history", &konflux.RecordHistoryConfig{}, konflux.RunRecordHistory) }
