package main

import (
	"testing"

	"github.com/release-to-prod/release-to-prod/test/depcheck"
)

// The vulnerability gate talks to Quay only: it must not link the Kubernetes client.
func TestDependencies(t *testing.T) { depcheck.NoKubernetes(t, ".") }
