package host

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/release-to-prod/release-to-prod/test/filelock"
)

// The two host-wide locks, files under BaseDir. The host lock is held by a running cluster
// (Begin to Unlock): one cluster at a time on a host, since the kubelet's sysctls are host-wide
// and two runs restoring them in turn would leave the second run's view of "before". The tests
// lock is held by a node test for its whole length: `go test ./...` runs the test binaries of
// several packages at once, and a test that looks at the host before its cluster starts and after
// it stops must not see another package's cluster.
const (
	hostLock  = ".lock"
	testsLock = ".tests.lock"
)

// lockPath is the file of a host-wide lock, its folder made.
func lockPath(name string) (string, error) {
	if err := os.MkdirAll(BaseDir, 0o755); err != nil {
		return "", fmt.Errorf("cluster: %w", err)
	}
	return filepath.Join(BaseDir, name), nil
}

// lock takes a host-wide lock, saying on log what it waits for when another process holds it.
func lock(name, holder string, log io.Writer) (func(), error) {
	path, err := lockPath(name)
	if err != nil {
		return nil, err
	}
	unlock, err := filelock.Lock(path, func() {
		fmt.Fprintf(log, "cluster: %s on this host; waiting for it to stop (%s)\n", holder, path)
	})
	if err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	return unlock, nil
}

// lockHost takes the host-wide lock of test clusters, waiting for another run to stop.
func lockHost(log io.Writer) (func(), error) {
	return lock(hostLock, "another test cluster runs", log)
}

// LockTests takes the lock of node tests, waiting for another package's node test to end; the
// test calls the returned function when it ends. A test takes it before the host lock (Start).
func LockTests(log io.Writer) (func(), error) {
	return lock(testsLock, "another node test runs", log)
}

// WaitForHost returns once no other test cluster holds the host, or when ctx ends (Ctrl-C): a
// caller that times Start calls it first so that the figures do not include another run's
// cluster, which Start would otherwise wait for inside its first phase, unable to be
// interrupted. It does not keep the lock: Start takes it.
func WaitForHost(ctx context.Context, log io.Writer) error {
	path, err := lockPath(hostLock)
	if err != nil {
		return err
	}
	waited := false
	err = filelock.WaitFree(ctx, path, func() {
		fmt.Fprintf(log, "cluster: another test cluster runs on this host; waiting for it to stop (%s; Ctrl-C to give up)\n", path)
		waited = true
	})
	switch {
	case err != nil && errors.Is(err, ctx.Err()):
		return fmt.Errorf("cluster: waiting for another cluster to stop: %w", err)
	case err != nil:
		return fmt.Errorf("cluster: %w", err)
	case waited:
		fmt.Fprintln(log, "cluster: the other cluster stopped")
	}
	return nil
}
