// Command check-app-interface is the app-interface gate: it validates the SaaS file that deploys
// the component against the commit to release.
package main

import (
	"github.com/release-to-prod/release-to-prod/pkg/gates/appinterface"
	"github.com/release-to-prod/release-to-prod/pkg/step"
)

func main() { step.Main("check-app-interface", &appinterface.Config{}, appinterface.Run) }
