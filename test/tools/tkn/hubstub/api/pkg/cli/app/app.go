// Package app stands in for github.com/tektoncd/hub/api/pkg/cli/app, which tkn links for its
// `tkn hub` command: neither github.com/tektoncd/hub v1.24.0 nor the fork tektoncd/cli v0.45.0
// replaces it with (github.com/openshift-pipelines/hub) is served by the module proxy here. The
// tests never run `tkn hub`; every other command is tektoncd/cli's own code.
package app

// CLI is the hub command's application state.
type CLI struct{}

// New returns the hub command's application state.
func New() *CLI { return &CLI{} }
