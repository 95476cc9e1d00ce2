//go:build tools

// Package tools pins the real Alertmanager that the alerts-gate tests run. v0.27.0 is the last
// release whose module carries its UI assets, so it builds from the Go module proxy.
package tools

import _ "github.com/prometheus/alertmanager/cmd/alertmanager"
