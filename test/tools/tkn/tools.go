//go:build tools

// Package tools pins the Tekton CLI (tektoncd/cli's cmd/tkn) that test/cluster runs as a user
// would, to start the Pipeline with the command the README gives.
package tools

import (
	_ "github.com/tektoncd/cli/cmd/tkn"
)
