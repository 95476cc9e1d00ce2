// Package cmd stands in for github.com/tektoncd/hub/api/pkg/cli/cmd (see package app).
package cmd

import (
	"errors"

	"github.com/spf13/cobra"

	"github.com/tektoncd/hub/api/pkg/cli/app"
)

// Root returns a `hub` command that says it is not built into this tkn.
func Root(*app.CLI) *cobra.Command {
	return &cobra.Command{
		Use:   "hub",
		Short: "Interact with Tekton Hub (not built into this tkn: its module is not served by the module proxy)",
		RunE: func(*cobra.Command, []string) error {
			return errors.New("tkn hub is not built into this tkn (test/tools/tkn/hubstub)")
		},
	}
}
