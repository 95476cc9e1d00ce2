package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"syscall"
	"time"
)

// WaitForHost returns once no other test cluster holds the host, or when ctx ends (Ctrl-C): a
// caller that times Start calls it first so that the figures do not include another run's
// cluster, which Start would otherwise wait for inside its first phase, unable to be
// interrupted. It does not keep the lock: Start takes it.
func WaitForHost(ctx context.Context, log io.Writer) error {
	f, path, err := openHostLock()
	if err != nil {
		return err
	}
	defer f.Close()
	waiting := false
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			if waiting {
				fmt.Fprintln(log, "cluster: the other cluster stopped")
			}
			return syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			return fmt.Errorf("cluster: lock: %w", err)
		}
		if !waiting {
			fmt.Fprintf(log, "cluster: another test cluster runs on this host; waiting for it to stop (%s; Ctrl-C to give up)\n", path)
			waiting = true
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("cluster: waiting for another cluster to stop: %w", ctx.Err())
		case <-time.After(time.Second):
		}
	}
}
