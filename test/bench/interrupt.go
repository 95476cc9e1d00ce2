package main

import (
	"fmt"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
)

// clusterUp is set while the cluster section's cluster runs: its own handler (test/cluster
// Start) then stops it, restores the host and ends the process.
var clusterUp atomic.Bool

// stopOnInterrupt stops the sandbox when the bench is interrupted (Ctrl-C, SIGTERM), so that no
// kube-apiserver or etcd outlives it, then ends the process — or, while a cluster runs, leaves
// that to the cluster's handler, which must finish restoring the host first. The returned
// function ends the watch.
func stopOnInterrupt(stop func() error) func() {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case sig := <-sigs:
			fmt.Fprintf(os.Stderr, "bench: %v: stopping the sandbox\n", sig)
			if err := stop(); err != nil {
				fmt.Fprintf(os.Stderr, "bench: %v\n", err)
			}
			if clusterUp.Load() {
				select {} // the cluster's handler ends the process once the host is restored
			}
			os.Exit(130)
		case <-done:
		}
	}()
	return func() {
		signal.Stop(sigs)
		close(done)
	}
}
