// Command peak-rss runs a command and writes its peak resident set size, in bytes, to a file:
//
//	peak-rss OUTFILE COMMAND [ARG…]
//
// The local runner starts each step through it because a process's ru_maxrss on Linux starts
// from the size of the process that exec'd it (the kernel keeps the old address space's high
// water mark across execve), so a step started straight from the runner, or from a test
// binary, reports the runner's size whenever that is larger than the step's own. This process
// is a few MB, so what it writes is the step's own peak. The exit code is the command's; a
// command killed by a signal kills this process with the same signal, so the runner still sees
// an OOM-like SIGKILL as one.
package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strconv"
	"syscall"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	if len(args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: peak-rss OUTFILE COMMAND [ARG…]")
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
	err := cmd.Wait()
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
