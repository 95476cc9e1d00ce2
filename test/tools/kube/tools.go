//go:build tools

// Package tools pins the real Kubernetes API server and etcd that the sandbox runs in tests, and
// kubectl, which the benchmarks compare the steps with.
// They are built from source through the Go module proxy (no prebuilt downloads reach this
// network); see test/sandbox for how the binaries are cached.
package tools

import (
	_ "go.etcd.io/etcd/server/v3/etcdmain"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
