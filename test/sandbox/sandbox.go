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
	root, err := tools.Root()
	if err != nil {
		return nil, err
	}
	apiserver, err := tools.Path(ctx, tools.KubeAPIServer, opts.Log)
	if err != nil {
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	etcd, err := tools.Path(ctx, tools.Etcd, opts.Log)
	if err != nil {
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	s := &Sandbox{Dir: opts.Dir, CRDs: "project"}
	if s.Dir == "" {
		if s.Dir, err = os.MkdirTemp("", "release-to-prod-sandbox-"); err != nil {
			return nil, fmt.Errorf("sandbox: %w", err)
		}
		s.ownDir = true
	} else if err := os.MkdirAll(s.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	defer func() {
		if err != nil {
			_ = s.Stop()
		}
	}()

	s.env = &envtest.Environment{
		CRDDirectoryPaths:        []string{filepath.Join(root, "test", "crds")},
		ErrorIfCRDPathMissing:    true,
		ControlPlaneStartTimeout: 2 * time.Minute,
		ControlPlaneStopTimeout:  30 * time.Second,
	}
	s.env.ControlPlane.GetAPIServer().Path = apiserver
	s.env.ControlPlane.Etcd = &envtest.Etcd{Path: etcd}
	if s.Config, err = s.env.Start(); err != nil {
		return nil, fmt.Errorf("sandbox: starting kube-apiserver and etcd: %w", err)
	}
	if opts.UpstreamCRDs != "" {
		if _, err := os.Stat(opts.UpstreamCRDs); err != nil {
			return nil, fmt.Errorf("sandbox: upstream CRDs (%s): %w", UpstreamCRDsEnv, err)
		}
		if _, err := envtest.InstallCRDs(s.Config, envtest.CRDInstallOptions{Paths: []string{opts.UpstreamCRDs}, ErrorIfPathMissing: true}); err != nil {
			return nil, fmt.Errorf("sandbox: installing upstream CRDs from %s: %w", opts.UpstreamCRDs, err)
		}
		s.CRDs = "project+upstream:" + opts.UpstreamCRDs
	}
	if s.Dynamic, err = dynamic.NewForConfig(s.Config); err != nil {
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	s.Kubeconfig = filepath.Join(s.Dir, "kubeconfig")
	if err := os.WriteFile(s.Kubeconfig, s.env.KubeConfig, 0o600); err != nil {
		return nil, fmt.Errorf("sandbox: writing kubeconfig: %w", err)
	}
	if s.Registry, err = StartRegistry(); err != nil {
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	return s, nil
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
