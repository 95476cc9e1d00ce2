//go:build tools

// Package tools pins the real Kubernetes components the tests run — the API server and etcd of
// the sandbox; the kubelet, scheduler and controller manager of the single-node cluster in
// test/cluster — and kubectl, which the benchmarks compare the steps with.
// They are built from source through the Go module proxy (no prebuilt downloads reach this
// network); see test/tools for how the binaries are cached.
package tools

import (
	_ "go.etcd.io/etcd/server/v3/etcdmain"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
	_ "k8s.io/kubernetes/cmd/kubelet"
)
