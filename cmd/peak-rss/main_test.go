package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
)

// TestPeakRSS runs the built launcher from this test process after the test has grown to over
// 100 MB, and checks that what it writes is the child's own size, not the test's, and that the
// child's exit code or killing signal passes through.
func TestPeakRSS(t *testing.T) {
	if _, err := exec.LookPath("sh"); err != nil {
		t.Fatal("these tests run their child processes with sh, which every Debian machine has")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "peak-rss")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	// Make this process's high water mark large: a child exec'd straight from it would report
	// at least this much.
	ballast := make([]byte, 100<<20)
	for i := range ballast {
		ballast[i] = 1
	}
	tests := []struct {
		name     string
		script   string
		wantCode int
		wantSig  syscall.Signal
	}{
		{"success", "exit 0", 0, 0},
		{"exit code", "exit 3", 3, 0},
		{"killed", "kill -9 $$", 0, syscall.SIGKILL},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "rss")
			err := exec.Command(bin, out, "sh", "-c", tc.script).Run()
			var exitErr *exec.ExitError
			switch {
			case tc.wantSig != 0:
				ws, ok := exitErrStatus(err)
				if !ok || !ws.Signaled() || ws.Signal() != tc.wantSig {
					t.Fatalf("got %v, want killed by %v", err, tc.wantSig)
				}
			case tc.wantCode == 0 && err != nil:
				t.Fatalf("got %v, want success", err)
			case tc.wantCode != 0 && (!errors.As(err, &exitErr) || exitErr.ExitCode() != tc.wantCode):
				t.Fatalf("got %v, want exit %d", err, tc.wantCode)
			}
			b, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			n, err := strconv.ParseInt(string(b), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			if n <= 0 || n >= 50<<20 {
				t.Errorf("peak RSS of sh: %d bytes, want more than 0 and far below this test's 100 MB", n)
			}
		})
	}
	_ = ballast[len(ballast)-1]
}

// TestLimit runs a command that grows past -limit and one that stays under it: the first is
// killed with SIGKILL, as the kernel kills a container over its memory limit, the second
// ends on its own.
func TestLimit(t *testing.T) {
	if _, err := exec.LookPath("sh"); err != nil {
		t.Fatal("these tests run their child processes with sh, which every Debian machine has")
	}
	bin := filepath.Join(t.TempDir(), "peak-rss")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	// A shell variable doubled until it holds 64 MiB, then held while the shell sleeps: its
	// resident set passes 32 MiB and stays there.
	const grow = `x=x; i=0; while [ $i -lt 26 ]; do x="$x$x"; i=$((i+1)); done; sleep 2`
	tests := []struct {
		name   string
		limit  string
		killed bool
	}{
		{"over the limit", "33554432", true},
		{"under the limit", "1073741824", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := exec.Command(bin, "-limit", tc.limit, filepath.Join(t.TempDir(), "rss"), "sh", "-c", grow).Run()
			ws, signaled := exitErrStatus(err)
			killed := signaled && ws.Signaled() && ws.Signal() == syscall.SIGKILL
			if killed != tc.killed {
				t.Fatalf("limit %s: got %v, want killed=%v", tc.limit, err, tc.killed)
			}
			if !tc.killed && err != nil {
				t.Fatalf("limit %s: got %v, want success", tc.limit, err)
			}
		})
	}
	if err := exec.Command(bin, "-limit", "lots", "out", "true").Run(); err == nil {
		t.Error("-limit lots was accepted")
	}
}

func exitErrStatus(err error) (syscall.WaitStatus, bool) {
	var exitErr *exec.ExitError
	if !errors.As(err, &exitErr) {
		return 0, false
	}
	ws, ok := exitErr.Sys().(syscall.WaitStatus)
	return ws, ok
}
