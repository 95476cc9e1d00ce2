package main

import (
	"testing"

	"github.com/release-to-prod/release-to-prod/test/depcheck"
)

// notify talks to Slack only (the outcome it reports comes from params): it must not link the Kubernetes client.
func TestDependencies(t *testing.T) { depcheck.NoKubernetes(t, ".") }
