// Command check-app-interface is the app-interface gate: it validates the SaaS file that deploys
// the component against the commit to release.
package main

import (
	"github.com/release-to-prod/release-to-prod/pkg/saasfile"
	"github.com/release-to-prod/release-to-prod/pkg/step"
)

func main() { step.Main("check-app-interface", &saasfile.Config{}, saasfile.Run) }
