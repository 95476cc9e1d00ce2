// Package tools builds the real components the sandbox runs — kube-apiserver, etcd and
// Alertmanager — from source through the Go module proxy, once, into a git-ignored cache.
//
// Each tool lives in its own Go module below this folder (kube/, alertmanager/), pinned by its
// go.mod and go.sum. The cache key is a hash of those files, so a binary is rebuilt only when
// the pinned versions change. Concurrent test processes wait on a lock instead of building twice.
package tools

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
)

// Tool is one binary built from a tools module.
type Tool struct {
	Name    string // binary name
	Module  string // folder below test/tools
	Package string // import path or ./relative path inside the module
	About   string // what and which version, for the first-build message
}

// The tools the sandbox uses.
var (
	KubeAPIServer = Tool{Name: "kube-apiserver", Module: "kube", Package: "k8s.io/kubernetes/cmd/kube-apiserver",
		About: "Kubernetes v1.37.2 kube-apiserver"}
	Etcd = Tool{Name: "etcd", Module: "kube", Package: "./etcd", About: "etcd v3.7.0"}
	// Alertmanager v0.27.0: the last release whose module ships its UI assets.
	Alertmanager = Tool{Name: "alertmanager", Module: "alertmanager", Package: "github.com/prometheus/alertmanager/cmd/alertmanager",
		About: "Prometheus Alertmanager v0.27.0"}

	// Kubectl is what the benchmarks compare the Konflux lookups with.
	Kubectl = Tool{Name: "kubectl", Module: "kube", Package: "k8s.io/kubernetes/cmd/kubectl", About: "Kubernetes v1.37.2 kubectl"}
)

// All is every tool, in build order.
var All = []Tool{KubeAPIServer, Etcd, Alertmanager, Kubectl}

// Root finds the repository root (the folder holding this project's go.mod) from the working
// directory upwards.
func Root() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("finding repository root: %w", err)
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && strings.HasPrefix(string(b), "module github.com/release-to-prod/release-to-prod\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("finding repository root: no go.mod of github.com/release-to-prod/release-to-prod above the working directory")
		}
		dir = parent
	}
}

// Path returns the cached binary of t, building it first when it is missing. Progress goes to
// log (the build of kube-apiserver takes minutes the first time).
func Path(ctx context.Context, t Tool, log io.Writer) (string, error) {
	root, err := Root()
	if err != nil {
		return "", err
	}
	modDir := filepath.Join(root, "test", "tools", t.Module)
	key, err := cacheKey(modDir)
	if err != nil {
		return "", err
	}
	dir := filepath.Join(root, ".cache", "tools", t.Module+"-"+key)
	bin := filepath.Join(dir, t.Name)
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("creating tool cache: %w", err)
	}
	unlock, err := lock(filepath.Join(dir, ".lock"))
	if err != nil {
		return "", err
	}
	defer unlock()
	if _, err := os.Stat(bin); err == nil { // another process built it while we waited
		return bin, nil
	}
	fmt.Fprintf(log, "building %s from source into %s\n  (first run only: it is compiled from the Go module proxy because no prebuilt binary can be downloaded here;\n   kube-apiserver takes 5-20 minutes on 2 cores, etcd and Alertmanager under a minute)\n", t.About, dir)
	tmp := bin + ".tmp"
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", tmp, t.Package)
	cmd.Dir = modDir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-mod=readonly")
	out, err := cmd.CombinedOutput()
	if err != nil {
		_ = os.Remove(tmp)
		return "", fmt.Errorf("building %s: %w\n%s", t.Name, err, out)
	}
	if err := os.Rename(tmp, bin); err != nil {
		return "", fmt.Errorf("installing %s: %w", t.Name, err)
	}
	fmt.Fprintf(log, "built %s\n", bin)
	return bin, nil
}

// cacheKey hashes what pins a tool module: go.mod, go.sum, its own Go files, and the Go version
// and platform that build it.
func cacheKey(modDir string) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "%s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
	err := filepath.WalkDir(modDir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		if n := d.Name(); n != "go.mod" && n != "go.sum" && !strings.HasSuffix(n, ".go") {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(modDir, p)
		fmt.Fprintf(h, "%s %d\n", rel, len(b))
		h.Write(b)
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("hashing tools module %s: %w", modDir, err)
	}
	return hex.EncodeToString(h.Sum(nil))[:12], nil
}

func lock(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("locking tool cache: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("locking tool cache: %w", err)
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}
