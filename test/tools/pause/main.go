// Command pause is the pod sandbox ("pause") process of the test cluster's pods: it holds the
// pod's namespaces open, reaps orphans when the pod shares its PID namespace, and exits on
// SIGINT or SIGTERM. It stands in for Kubernetes' C pause image (build/pause/linux/pause.c),
// which cannot be pulled here, and does the same three things.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	if os.Getpid() != 1 {
		os.Stderr.WriteString("pause: warning: not running as PID 1\n")
	}
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	for s := range sigs {
		if s != syscall.SIGCHLD {
			os.Stderr.WriteString("pause: shutting down, got signal\n")
			os.Exit(0)
		}
		// Reap every exited child: orphans of a shared PID namespace are re-parented here.
		for {
			var ws syscall.WaitStatus
			pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
		}
	}
}
