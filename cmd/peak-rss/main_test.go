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
		t.Skip("no sh")
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

func exitErrStatus(err error) (syscall.WaitStatus, bool) {
	var exitErr *exec.ExitError
	if !errors.As(err, &exitErr) {
		return 0, false
	}
	ws, ok := exitErr.Sys().(syscall.WaitStatus)
	return ws, ok
}
