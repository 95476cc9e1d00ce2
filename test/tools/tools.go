// Package tools builds the real components the tests run — the sandbox's kube-apiserver, etcd
// and Alertmanager; the test cluster's kubelet, kube-scheduler, kube-controller-manager, Tekton
// controller and the binaries of its images — from source through the Go module proxy, once,
// into a git-ignored cache.
//
// Each tool lives in its own Go module below this folder (kube/, tekton/, resolvers/, tkn/,
// alertmanager/, pause/, chains/), pinned by its go.mod and go.sum. The cache key is a hash of those
// files and of the flags the module is built with, so a binary is rebuilt (often only relinked,
// from Go's build cache) when the pinned versions or the flags change. Concurrent test processes wait on a lock instead of
// building twice.
package tools

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/release-to-prod/release-to-prod/test/filelock"
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
	KubeAPIServer = kubernetes("kube-apiserver")
	Etcd          = Tool{Name: "etcd", Module: "kube", Package: "./etcd", About: "etcd v3.7.0"}
	// Alertmanager v0.27.0: the last release whose module ships its UI assets.
	Alertmanager = Tool{Name: "alertmanager", Module: "alertmanager", Package: "github.com/prometheus/alertmanager/cmd/alertmanager",
		About: "Prometheus Alertmanager v0.27.0"}

	// Kubectl is what the benchmarks compare the Konflux lookups with.
	Kubectl = kubernetes("kubectl")

	// The node and control loops of the single-node cluster in test/cluster.
	Kubelet               = kubernetes("kubelet")
	KubeScheduler         = kubernetes("kube-scheduler")
	KubeControllerManager = kubernetes("kube-controller-manager")

	// Tekton Pipelines at the version the project's go.mod pins: the controller, and the
	// binaries test/cluster lays into the images the controller's pods run.
	TektonController        = tektonPipelines("tekton-controller", "controller")
	TektonEntrypoint        = tektonPipelines("tekton-entrypoint", "entrypoint")
	TektonNop               = tektonPipelines("tekton-nop", "nop")
	TektonWorkingDirInit    = tektonPipelines("tekton-workingdirinit", "workingdirinit")
	TektonSidecarLogResults = tektonPipelines("tekton-sidecarlogresults", "sidecarlogresults")

	// TektonResolvers are Tekton's remote resolvers (git, bundles, …), at the same version as the
	// controller, from a module of their own (resolvers/; see its tools.go).
	TektonResolvers = Tool{Name: "tekton-resolvers", Module: "resolvers", Package: "github.com/tektoncd/pipeline/cmd/resolvers",
		About: "Tekton Pipelines " + tektonVersion + " resolvers"}
	// Tkn is the Tekton CLI a user starts the Pipeline with (the README's `tkn pipeline start`).
	Tkn = Tool{Name: "tkn", Module: "tkn", Package: "github.com/tektoncd/cli/cmd/tkn", About: "Tekton CLI v0.45.0 tkn"}
	// ChainsSubjects runs Tekton Chains' own type-hinting code over Tekton YAML: which results
	// Chains would take for artifacts a run built (test/contract; pkg/build/tekton.CheckChains is the
	// fast rule it keeps honest).
	ChainsSubjects = Tool{Name: "chains-subjects", Module: "chains", Package: ".",
		About: "Tekton Chains v0.26.2 type hinting (chains-subjects)"}

	// Pause is the pod sandbox process of the test cluster (no pause image can be pulled here).
	Pause = Tool{Name: "pause", Module: "pause", Package: ".", About: "the pod sandbox pause process"}
)

// The versions the kube and tekton modules pin (their go.mod), for the first-build message.
const (
	kubeVersion   = "v1.37.2"
	tektonVersion = "v1.15.0"
)

// kubernetes is the Kubernetes command cmd, built from the kube module.
func kubernetes(cmd string) Tool {
	return Tool{Name: cmd, Module: "kube", Package: "k8s.io/kubernetes/cmd/" + cmd, About: "Kubernetes " + kubeVersion + " " + cmd}
}

// tektonPipelines is the Tekton Pipelines command cmd, built from the tekton module as name.
func tektonPipelines(name, cmd string) Tool {
	return Tool{Name: name, Module: "tekton", Package: "github.com/tektoncd/pipeline/cmd/" + cmd, About: "Tekton Pipelines " + tektonVersion + " " + cmd}
}

// Sandbox is what the sandbox and so `make demo` run: the local demo needs no node.
var Sandbox = []Tool{KubeAPIServer, Etcd, Alertmanager, Kubectl}

// All is every tool, in build order: the sandbox's first, then the test cluster's, then the
// contract test's Chains checker.
var All = []Tool{KubeAPIServer, Etcd, Alertmanager, Kubectl,
	Kubelet, KubeScheduler, KubeControllerManager,
	TektonController, TektonEntrypoint, TektonNop, TektonWorkingDirInit, TektonSidecarLogResults, Pause,
	TektonResolvers, Tkn, ChainsSubjects}

// ldflags returns the linker flags a module's binaries are built with. Built from the module
// proxy, Kubernetes binaries report version v0.0.0-master+$Format:%H$, which Tekton's controller
// refuses ("Version check failed … Invalid character(s) found in build meta data"), and tkn
// reports "dev": they are stamped with the version go.mod pins instead.
func ldflags(modDir, module string) (string, error) {
	flags := "-s -w"
	switch module {
	case "kube":
		version, err := requirement(modDir, module, "k8s.io/kubernetes")
		if err != nil {
			return "", err
		}
		parts := strings.SplitN(strings.TrimPrefix(version, "v"), ".", 3)
		if len(parts) != 3 {
			return "", fmt.Errorf("%s/go.mod: no k8s.io/kubernetes vMAJOR.MINOR.PATCH requirement (found %q)", module, version)
		}
		const pkg = "k8s.io/component-base/version"
		return fmt.Sprintf("%s -X %s.gitVersion=%s -X %s.gitMajor=%s -X %s.gitMinor=%s -X %s.gitTreeState=clean",
			flags, pkg, version, pkg, parts[0], pkg, parts[1], pkg), nil
	case "tkn":
		version, err := requirement(modDir, module, "github.com/tektoncd/cli")
		if err != nil {
			return "", err
		}
		return flags + " -X github.com/tektoncd/cli/pkg/cmd/version.clientVersion=" + version, nil
	}
	return flags, nil
}

// requirement returns the version a tools module's go.mod requires of path, in a require block
// or on a require line of its own.
func requirement(modDir, module, path string) (string, error) {
	b, err := os.ReadFile(filepath.Join(modDir, "go.mod"))
	if err != nil {
		return "", fmt.Errorf("reading %s/go.mod: %w", module, err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(strings.TrimPrefix(strings.TrimSpace(line), "require "))
		if len(f) >= 2 && f[0] == path && strings.HasPrefix(f[1], "v") {
			return f[1], nil
		}
	}
	return "", fmt.Errorf("%s/go.mod: no %s vMAJOR.MINOR.PATCH requirement", module, path)
}

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
	flags, err := ldflags(modDir, t.Module)
	if err != nil {
		return "", err
	}
	key, err := cacheKey(modDir, flags)
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
	unlock, err := filelock.Lock(filepath.Join(dir, ".lock"), nil)
	if err != nil {
		return "", err
	}
	defer unlock()
	if _, err := os.Stat(bin); err == nil { // another process built it while we waited
		return bin, nil
	}
	fmt.Fprintf(log, "building %s from source into %s\n  (first run only: it is compiled from the Go module proxy because no prebuilt binary can be downloaded here;\n   kube-apiserver takes 5-20 minutes on 2 cores, the kubelet and the Tekton controller 5-10 more,\n   the others under a minute each)\n", t.About, dir)
	tmp := bin + ".tmp"
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags="+flags, "-o", tmp, t.Package)
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

// cacheKey hashes what pins a tool module: go.mod, go.sum, its own Go files, the linker flags,
// and the Go version and platform that build it.
func cacheKey(modDir, ldflags string) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "%s %s/%s\nldflags %s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH, ldflags)
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

// Select returns the tools named (by binary name), in the order given; no names selects All.
func Select(names []string) ([]Tool, error) {
	if len(names) == 0 {
		return All, nil
	}
	byName := map[string]Tool{}
	for _, t := range All {
		byName[t.Name] = t
	}
	var out []Tool
	for _, n := range names {
		t, ok := byName[n]
		if !ok {
			return nil, fmt.Errorf("no tool named %q", n)
		}
		out = append(out, t)
	}
	return out, nil
}

// ModuleDir returns the source directory of a module that a tools module requires, at the
// version it pins (downloading it through the module proxy when needed): test/cluster installs
// Tekton's CRDs and ConfigMaps from the same source its controller is built from.
func ModuleDir(ctx context.Context, module, path string) (string, error) {
	root, err := Root()
	if err != nil {
		return "", err
	}
	cmd := exec.CommandContext(ctx, "go", "mod", "download", "-json", path)
	cmd.Dir = filepath.Join(root, "test", "tools", module)
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=readonly")
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("locating %s in tools module %s: %w", path, module, err)
	}
	var m struct{ Dir, Error string }
	if err := json.Unmarshal(out, &m); err != nil {
		return "", fmt.Errorf("locating %s in tools module %s: %w", path, module, err)
	}
	if m.Error != "" || m.Dir == "" {
		return "", fmt.Errorf("locating %s in tools module %s: %s", path, module, m.Error)
	}
	return m.Dir, nil
}
