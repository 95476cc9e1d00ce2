package host

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"

	"golang.org/x/sys/unix"
)

// netns is a network namespace kept alive by a bind mount of its nsfs file, so that daemons can
// join it with `nsenter --net=<file>` and the test process can open sockets in it.
//
// Why not `ip netns exec`: it also gives each process its own mount namespace with an empty
// /sys/fs/cgroup, so volumes the kubelet mounts would be invisible to containerd. Every daemon
// here shares the host's mount namespace and only the network is separate.
type netns struct {
	path string // the bind-mounted nsfs file
}

// newNetns creates a network namespace and pins it at path (which must not exist yet).
func newNetns(path string) (*netns, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_RDONLY, 0o444)
	if err != nil {
		return nil, fmt.Errorf("netns file: %w", err)
	}
	f.Close()
	errc := make(chan error, 1)
	// unshare(CLONE_NEWNET) changes only the calling thread: do it on a locked thread that is
	// thrown away afterwards (a goroutine that exits locked ends its thread), so no other
	// goroutine ever runs in the new namespace by accident.
	go func() {
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("unshare network namespace: %w", err)
			return
		}
		self := fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid())
		if err := unix.Mount(self, path, "", unix.MS_BIND, ""); err != nil {
			errc <- fmt.Errorf("pinning network namespace at %s: %w", path, err)
			return
		}
		errc <- nil
	}()
	if err := <-errc; err != nil {
		_ = os.Remove(path)
		return nil, err
	}
	return &netns{path: path}, nil
}

// remove unmounts and deletes the namespace file; the namespace itself goes away with the last
// process or socket in it.
func (n *netns) remove() error {
	var errs []error
	if err := unix.Unmount(n.path, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		errs = append(errs, fmt.Errorf("unmounting %s: %w", n.path, err))
	}
	if err := os.Remove(n.path); err != nil && !os.IsNotExist(err) {
		errs = append(errs, fmt.Errorf("removing %s: %w", n.path, err))
	}
	return errors.Join(errs...)
}

// inode identifies the namespace, to find the processes that live in it.
func (n *netns) inode() (uint64, error) {
	var st unix.Stat_t
	if err := unix.Stat(n.path, &st); err != nil {
		return 0, fmt.Errorf("netns %s: %w", n.path, err)
	}
	return st.Ino, nil
}

// do runs fn on an OS thread that has joined the namespace. Sockets fn creates belong to the
// namespace for their whole life, wherever they are used afterwards.
func (n *netns) do(fn func() error) error {
	target, err := os.Open(n.path)
	if err != nil {
		return fmt.Errorf("opening netns: %w", err)
	}
	defer target.Close()
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := os.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()))
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("opening own netns: %w", err)
			return
		}
		defer orig.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("entering netns %s: %w", n.path, err)
			return
		}
		ferr := fn()
		if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
			// Leave the thread locked: it ends with this goroutine instead of serving others
			// in the wrong namespace.
			errc <- errors.Join(ferr, fmt.Errorf("leaving netns: %w", err))
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

// listen opens a TCP listener inside the namespace.
func (n *netns) listen(addr string) (net.Listener, error) {
	var l net.Listener
	err := n.do(func() error {
		var err error
		l, err = net.Listen("tcp", addr)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("listening on %s in the cluster's network namespace: %w", addr, err)
	}
	return l, nil
}

// dial opens a connection from inside the namespace: the test process reaches the cluster's
// addresses (10.96.0.1, the bridge) this way and never sends a packet on the host's network.
func (n *netns) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	var c net.Conn
	err := n.do(func() error {
		var d net.Dialer
		var err error
		c, err = d.DialContext(ctx, network, addr)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("dialing %s in the cluster's network namespace: %w", addr, err)
	}
	return c, nil
}
