// Command democluster runs the release-to-prod Pipeline on a real node, the way `make
// demo-cluster` shows it: a single-node Kubernetes cluster with the Tekton controller
// (package cluster), the step images built from this checkout, a tenant namespace seeded with
// a Konflux world, and two PipelineRuns of the same commit created as the tenant user — the
// first releases, the second must not. It prints the TaskRuns and their pods as they change,
// then each run's history entry and Slack post, stops the cluster and gives the host back.
//
// KEEP=1 keeps the cluster up after the runs until Ctrl-C, and prints how to look at it.
// Needs root (network namespace, mounts, cgroups, containerd).
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/go-logr/logr"
	crlog "sigs.k8s.io/controller-runtime/pkg/log"
)

func main() {
	// controller-runtime (whose envtest installs the CRDs) prints a stack trace when nothing
	// took its log; it has nothing to say here.
	crlog.SetLogger(logr.Discard())
	// The cluster installs its own handler once started: on Ctrl-C it stops the cluster,
	// restores the host and ends the process with the signal. Until then (and for run's
	// deferred Stop, which waits for that same stop) this context ends the demo.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		// A second Ctrl-C ends the process when no cluster holds the signal yet (the demo
		// waiting for another run's cluster to stop); once one does, its handler keeps it.
		<-ctx.Done()
		stop()
	}()
	err := run(ctx, os.Getenv("KEEP") == "1")
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo-cluster:", err)
		os.Exit(1)
	}
}
