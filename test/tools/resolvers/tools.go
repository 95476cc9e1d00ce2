//go:build tools

// Package tools pins Tekton's remote resolvers (cmd/resolvers: the git, bundles, hub, cluster
// and http resolvers in one process) at the Tekton Pipelines version the project's go.mod pins,
// for the single-node cluster in test/cluster. It is a module of its own, beside tekton/, so
// that adding it left the cached builds of the controller and its images untouched (their cache
// key hashes tekton/'s go.mod and go.sum); test/tools checks that both pin the same version.
package tools

import (
	_ "github.com/tektoncd/pipeline/cmd/resolvers"
)
