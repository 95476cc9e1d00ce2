//go:build tools

// Package tools pins the Tekton Pipelines components the single-node cluster in test/cluster
// runs: the controller, and the binaries of the images its pods need (entrypoint, nop,
// workingdirinit, sidecarlogresults). The version is the one the project's go.mod pins, so the
// controller that runs the Pipeline in tests is the code that validates it in lint-tekton.
//
// The webhook is not built: the controller's reconcilers default and validate every PipelineRun
// and TaskRun themselves (pipelinerun.go and taskrun.go call SetDefaults and Validate), and the
// cluster installs the CRDs without the conversion webhook (only v1 objects are written).
package tools

import (
	_ "github.com/tektoncd/pipeline/cmd/controller"
	_ "github.com/tektoncd/pipeline/cmd/entrypoint"
	_ "github.com/tektoncd/pipeline/cmd/nop"
	_ "github.com/tektoncd/pipeline/cmd/sidecarlogresults"
	_ "github.com/tektoncd/pipeline/cmd/workingdirinit"
)
