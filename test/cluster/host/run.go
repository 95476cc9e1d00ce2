// Package host is what a test cluster does to the machine it runs on, and gives back: the
// host-wide locks, the run's directory under BaseDir, the host state recorded before the run
// changes it (sysctls, fixed paths, pod network namespaces), the run's cgroups and network
// namespace, finding and killing the run's processes, and the one teardown that ends a run —
// when its cluster stops (Run.Teardown) and when a later run sweeps what a killed one left
// (Sweep). It knows nothing of Kubernetes: test/cluster starts the cluster on a Run.
package host

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// BaseDir holds one directory per run; a directory whose owner process is gone is swept by the
// next Begin.
const BaseDir = "/tmp/release-to-prod-cluster"

// killDeadline is how long the run's processes get to go after SIGKILL.
const killDeadline = 30 * time.Second

// Run is one cluster's hold on the host, from Begin to Teardown and Unlock.
type Run struct {
	Dir string // the run's directory under BaseDir: configs, logs, state

	state   *runState
	ns      *netns
	nsInode uint64
	unlock  func()
}

// Begin takes the host lock (waiting for another run to stop), sweeps what killed runs left,
// makes the run's directory and records the host state the run will give back. On error
// nothing is left and the lock is released.
func Begin(log io.Writer) (*Run, error) {
	unlock, err := lockHost(log)
	if err != nil {
		return nil, err
	}
	if err := Sweep(log); err != nil {
		unlock()
		return nil, fmt.Errorf("cluster: sweeping runs left behind: %w", err)
	}
	dir, err := os.MkdirTemp(BaseDir, "run-")
	if err != nil {
		unlock()
		return nil, fmt.Errorf("cluster: %w", err)
	}
	state, err := recordHost(dir, "/release-to-prod-"+filepath.Base(dir))
	if err != nil {
		_ = os.RemoveAll(dir)
		unlock()
		return nil, fmt.Errorf("cluster: %w", err)
	}
	return &Run{Dir: dir, state: state, unlock: unlock}, nil
}

// Isolate creates the run's cgroups and its network namespace. The namespace must exist before
// any daemon is forked (see newNetns).
func (r *Run) Isolate() error {
	if err := createCgroups(r.state.CgroupName); err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	var err error
	if r.ns, err = newNetns(filepath.Join(r.Dir, "netns")); err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	if r.nsInode, err = r.ns.inode(); err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	return nil
}

// CgroupName is the run's cgroup below the root of every hierarchy: the kubelet's cgroupRoot.
func (r *Run) CgroupName() string { return r.state.CgroupName }

// NetnsPath is the file that pins the run's network namespace: `nsenter --net=<path>` runs a
// program in it.
func (r *Run) NetnsPath() string { return r.ns.path }

// Listen opens a TCP listener inside the run's network namespace.
func (r *Run) Listen(addr string) (net.Listener, error) { return r.ns.listen(addr) }

// Dial opens a connection from inside the run's network namespace: the test process reaches
// the cluster's addresses this way and never sends a packet on the host's network.
func (r *Run) Dial(ctx context.Context, network, addr string) (net.Conn, error) {
	return r.ns.dial(ctx, network, addr)
}

// KillAll sends SIGKILL to every process of the run until none is left.
func (r *Run) KillAll() error {
	return killAll(r.Dir, r.state.CgroupName, r.nsInode, killDeadline)
}

// Teardown ends what the run left on the host (see teardown); errs are the errors of the stop
// so far, and the run's directory is kept for the next Sweep unless there are none.
func (r *Run) Teardown(errs []error) []error {
	return teardown(r.Dir, r.state, r.ns, r.nsInode, errs)
}

// Unlock releases the host lock.
func (r *Run) Unlock() { r.unlock() }

// Processes lists the processes of the run still alive.
func (r *Run) Processes() []int { return runProcesses(r.Dir, r.state.CgroupName, r.nsInode) }

// Mounts lists the mount points still at or below the run's directory.
func (r *Run) Mounts() []string { return mountsUnder(r.Dir) }

// Sweep stops and removes what runs killed before their Stop left behind (their owner process
// is gone), restoring the host state they recorded.
func Sweep(log io.Writer) error {
	entries, err := readDirIfAny(BaseDir)
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range entries {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), "run-") {
			continue
		}
		dir := filepath.Join(BaseDir, e.Name())
		s, err := loadState(dir)
		if err != nil {
			if _, statErr := os.Stat(stateFile(dir)); errors.Is(statErr, os.ErrNotExist) && len(mountsUnder(dir)) == 0 {
				_ = os.RemoveAll(dir) // a run that stopped before changing anything
				continue
			}
			errs = append(errs, err)
			continue
		}
		if s.alive() {
			continue
		}
		fmt.Fprintf(log, "cluster: sweeping %s, left by process %d\n", dir, s.PID)
		ns := &netns{path: filepath.Join(dir, "netns")}
		inode, _ := ns.inode() // 0 when the namespace file is already gone
		errs = append(errs, teardown(dir, s, ns, inode, nil)...)
	}
	return errors.Join(errs...)
}
