// Package sandbox starts real components on loopback for tests and the demo: a kube-apiserver
// with etcd (built from source by test/tools, run by controller-runtime's envtest) holding the
// Konflux CRDs, and an OCI registry (go-containerregistry's pkg/registry) with a Quay API
// stand-in on the same server. Nothing depends on a service left running elsewhere: Start
// starts everything, Stop stops it.
package sandbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/release-to-prod/release-to-prod/test/tools"
)

// UpstreamCRDsEnv names a directory of upstream Konflux CRDs to install over the project's test
// CRDs (CI points it at ../shared/konflux-crds).
const UpstreamCRDsEnv = "SANDBOX_UPSTREAM_CRDS"

// Options configure Start.
type Options struct {
	// UpstreamCRDs is a directory of upstream CRDs installed over the project's; default
	// $SANDBOX_UPSTREAM_CRDS.
	UpstreamCRDs string
	// Log receives progress (the first-run tool build); default os.Stderr.
	Log io.Writer
	// Dir holds the kubeconfig and other files; default a new temporary directory.
	Dir string
}

// Sandbox is a running set of components.
type Sandbox struct {
	Config     *rest.Config
	Kubeconfig string // path of a kubeconfig file for the admin user
	Dynamic    dynamic.Interface
	Registry   *Registry
	Dir        string
	// CRDs says which CRD sets are installed ("project" or "project+upstream:<dir>").
	CRDs string

	env    *envtest.Environment
	ownDir bool
}

// Start starts the API server (with the CRDs) and the registry.
func Start(ctx context.Context, opts Options) (_ *Sandbox, err error) {
	if opts.Log == nil {
		opts.Log = os.Stderr
	}
	if opts.UpstreamCRDs == "" {
		opts.UpstreamCRDs = os.Getenv(UpstreamCRDsEnv)
	}
	bins, err := findControlPlane(ctx, opts.Log)
	if err != nil {
		return nil, err
	}
	s := &Sandbox{Dir: opts.Dir, CRDs: "project"}
	if err := s.makeDir(); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			_ = s.Stop()
		}
	}()
	if err := s.startControlPlane(bins); err != nil {
		return nil, err
	}
	if err := s.installUpstreamCRDs(opts.UpstreamCRDs); err != nil {
		return nil, err
	}
	if err := s.connect(); err != nil {
		return nil, err
	}
	if s.Registry, err = StartRegistry(); err != nil {
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	return s, nil
}

// controlPlane is where the checkout's test CRDs and the built control plane's programs are.
type controlPlane struct {
	root, apiserver, etcd string
}

func findControlPlane(ctx context.Context, log io.Writer) (controlPlane, error) {
	var cp controlPlane
	var err error
	if cp.root, err = tools.Root(); err != nil {
		return cp, err
	}
	if cp.apiserver, err = tools.Path(ctx, tools.KubeAPIServer, log); err != nil {
		return cp, fmt.Errorf("sandbox: %w", err)
	}
	if cp.etcd, err = tools.Path(ctx, tools.Etcd, log); err != nil {
		return cp, fmt.Errorf("sandbox: %w", err)
	}
	return cp, nil
}

// makeDir creates s.Dir, or a temporary directory that Stop removes when s.Dir is empty.
func (s *Sandbox) makeDir() error {
	if s.Dir != "" {
		if err := os.MkdirAll(s.Dir, 0o755); err != nil {
			return fmt.Errorf("sandbox: %w", err)
		}
		return nil
	}
	var err error
	if s.Dir, err = os.MkdirTemp("", "release-to-prod-sandbox-"); err != nil {
		return fmt.Errorf("sandbox: %w", err)
	}
	s.ownDir = true
	return nil
}

// startControlPlane starts etcd and kube-apiserver with the project's test CRDs.
func (s *Sandbox) startControlPlane(cp controlPlane) error {
	s.env = &envtest.Environment{
		CRDDirectoryPaths:        []string{filepath.Join(cp.root, "test", "crds")},
		ErrorIfCRDPathMissing:    true,
		ControlPlaneStartTimeout: 2 * time.Minute,
		ControlPlaneStopTimeout:  30 * time.Second,
	}
	s.env.ControlPlane.GetAPIServer().Path = cp.apiserver
	s.env.ControlPlane.Etcd = &envtest.Etcd{Path: cp.etcd}
	var err error
	if s.Config, err = s.env.Start(); err != nil {
		return fmt.Errorf("sandbox: starting kube-apiserver and etcd: %w", err)
	}
	return nil
}

// installUpstreamCRDs installs the CRDs of dir over the project's; none when dir is "".
func (s *Sandbox) installUpstreamCRDs(dir string) error {
	if dir == "" {
		return nil
	}
	if _, err := os.Stat(dir); err != nil {
		return fmt.Errorf("sandbox: upstream CRDs (%s): %w", UpstreamCRDsEnv, err)
	}
	if _, err := envtest.InstallCRDs(s.Config, envtest.CRDInstallOptions{Paths: []string{dir}, ErrorIfPathMissing: true}); err != nil {
		return fmt.Errorf("sandbox: installing upstream CRDs from %s: %w", dir, err)
	}
	s.CRDs = "project+upstream:" + dir
	return nil
}

// connect makes the dynamic client and writes the admin's kubeconfig.
func (s *Sandbox) connect() error {
	var err error
	if s.Dynamic, err = dynamic.NewForConfig(s.Config); err != nil {
		return fmt.Errorf("sandbox: %w", err)
	}
	s.Kubeconfig = filepath.Join(s.Dir, "kubeconfig")
	if err := os.WriteFile(s.Kubeconfig, s.env.KubeConfig, 0o600); err != nil {
		return fmt.Errorf("sandbox: writing kubeconfig: %w", err)
	}
	return nil
}

// Stop stops everything Start started; it is safe to call more than once.
func (s *Sandbox) Stop() error {
	var errs []error
	if s.Registry != nil {
		s.Registry.Close()
		s.Registry = nil
	}
	if s.env != nil {
		if err := s.env.Stop(); err != nil {
			errs = append(errs, fmt.Errorf("stopping kube-apiserver: %w", err))
		}
		s.env = nil
	}
	if s.ownDir && s.Dir != "" {
		if err := os.RemoveAll(s.Dir); err != nil {
			errs = append(errs, err)
		}
		s.ownDir = false
	}
	return errors.Join(errs...)
}

// New starts a sandbox for a test and stops it when the test ends. It fails the test loudly
// when the sandbox cannot start; it skips only under -short, where no real component runs.
func New(t testing.TB) *Sandbox {
	t.Helper()
	if testing.Short() {
		t.Skip("sandbox: starts kube-apiserver, etcd and a registry; not run with -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	s, err := Start(ctx, Options{Log: testLog{t}})
	if err != nil {
		t.Fatalf("sandbox could not start (this is a failure, not a skip): %v", err)
	}
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Errorf("sandbox: %v", err)
		}
	})
	return s
}

type testLog struct{ t testing.TB }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Log(string(p))
	return len(p), nil
}
