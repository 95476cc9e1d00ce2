package main

import (
	"testing"

	"github.com/release-to-prod/release-to-prod/test/depcheck"
)

// gate-verdict reads the gate steps' exit codes and advice only: it must not link the Kubernetes client.
func TestDependencies(t *testing.T) { depcheck.NoKubernetes(t, ".") }
