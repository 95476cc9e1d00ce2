package main

import (
	"testing"

	"github.com/release-to-prod/release-to-prod/test/depcheck"
)

// The app-interface gate reads a SaaS file from a workspace only: it must not link the Kubernetes client.
func TestDependencies(t *testing.T) { depcheck.NoKubernetes(t, ".") }
