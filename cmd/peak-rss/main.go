// Command peak-rss runs a command and writes its peak resident set size, in bytes, to a file:
//
//	peak-rss [-limit BYTES] OUTFILE COMMAND [ARG…]
//
// The local runner starts each step through it because a process's ru_maxrss on Linux starts
// from the size of the process that exec'd it (the kernel keeps the old address space's high
// water mark across execve), so a step started straight from the runner, or from a test
// binary, reports the runner's size whenever that is larger than the step's own. This process
// is a few MB, so what it writes is the step's own peak. The exit code is the command's; a
// command killed by a signal kills this process with the same signal, so the runner still sees
// an OOM-like SIGKILL as one.
//
// With -limit it also stands in for the memory cgroup of the step's container: it samples the
// command's resident set every few milliseconds and kills it with SIGKILL once it is over
// BYTES, as the kernel kills a container over its limits.memory, so that a step whose limit is
// too small fails here as it would on a node. Sampling can miss a spike shorter than its
// period, and the kernel also counts the page cache: the local check is the more lenient one.
package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

// samplePeriod is how often the resident set is compared to -limit.
const samplePeriod = 5 * time.Millisecond

func run(args []string) int {
	var limit int64
	if len(args) >= 2 && args[0] == "-limit" {
		n, err := strconv.ParseInt(args[1], 10, 64)
		if err != nil || n <= 0 {
			fmt.Fprintf(os.Stderr, "peak-rss: -limit %q: want a positive number of bytes\n", args[1])
			return 2
		}
		limit, args = n, args[2:]
	}
	if len(args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: peak-rss [-limit BYTES] OUTFILE COMMAND [ARG…]")
		return 2
	}
	// Pdeathsig is tied to the thread that started the child: keep it alive until the end.
	runtime.LockOSThread()
	cmd := exec.Command(args[1], args[2:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	// When the runner kills this process (a step timeout, a cancelled run), the step goes too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(os.Stderr, "peak-rss: %v\n", err)
		return 127
	}
	go func() {
		for s := range sigs {
			_ = cmd.Process.Signal(s)
		}
	}()
	done := make(chan struct{})
	if limit > 0 {
		go enforce(cmd.Process, limit, done)
	}
	err := cmd.Wait()
	close(done)
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		if werr := os.WriteFile(args[0], []byte(strconv.FormatInt(ru.Maxrss*1024, 10)), 0o644); werr != nil { // KiB on Linux
			fmt.Fprintf(os.Stderr, "peak-rss: %v\n", werr)
		}
	}
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		fmt.Fprintf(os.Stderr, "peak-rss: %v\n", err)
		return 127
	}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		signal.Reset(ws.Signal())
		_ = syscall.Kill(os.Getpid(), ws.Signal())
		return 128 + int(ws.Signal())
	}
	return cmd.ProcessState.ExitCode()
}

// enforce kills p with SIGKILL once its resident set is over limit bytes, until done is closed.
func enforce(p *os.Process, limit int64, done <-chan struct{}) {
	statm := fmt.Sprintf("/proc/%d/statm", p.Pid)
	page := int64(os.Getpagesize())
	tick := time.NewTicker(samplePeriod)
	defer tick.Stop()
	for {
		select {
		case <-done:
			return
		case <-tick.C:
		}
		b, err := os.ReadFile(statm)
		if err != nil {
			return // the process is gone
		}
		// statm: size resident shared text lib data dt, in pages.
		fields := strings.Fields(string(b))
		if len(fields) < 2 {
			continue
		}
		resident, err := strconv.ParseInt(fields[1], 10, 64)
		if err != nil {
			continue
		}
		if resident*page > limit {
			fmt.Fprintf(os.Stderr, "peak-rss: resident set %d bytes over the memory limit of %d bytes: killed, as the kernel kills a container over its limits.memory\n", resident*page, limit)
			_ = p.Signal(syscall.SIGKILL)
			return
		}
	}
}
