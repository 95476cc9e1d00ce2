package cluster

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// daemon is one long-running process of the cluster, started inside the network namespace
// with nsenter (which execs it: the daemon keeps nsenter's PID) in a process group of its own.
type daemon struct {
	name string
	log  string
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	err  error         // its exit status, once done
}

// startDaemon starts bin with args in the namespace; its output goes to logs/<name>.log.
func (c *Cluster) startDaemon(name string, env []string, bin string, args ...string) (*daemon, error) {
	logPath := filepath.Join(c.Dir, "logs", name+".log")
	if err := os.MkdirAll(filepath.Dir(logPath), 0o755); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	cmd := exec.Command("nsenter", append([]string{"--net=" + c.host.NetnsPath(), "--", bin}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.Dir = c.Dir
	// Pdeathsig: a test binary killed outright (a -timeout panic, SIGKILL) takes its daemons
	// with it; what they started (containerd's shims, containers) is swept by the next run.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	d := &daemon{name: name, log: logPath, cmd: cmd, done: make(chan struct{})}
	go func() {
		d.err = cmd.Wait()
		logFile.Close()
		close(d.done)
	}()
	c.daemons = append(c.daemons, d)
	return d, nil
}

// exited reports, without blocking, an error when the daemon is no longer running.
func (d *daemon) exited() error {
	select {
	case <-d.done:
		return fmt.Errorf("%s exited (%v); last lines of %s:\n%s", d.name, d.err, d.log, tail(d.log, 25))
	default:
		return nil
	}
}

// stop sends SIGTERM to the daemon's process group and SIGKILL after grace.
func (d *daemon) stop(grace time.Duration) error {
	select {
	case <-d.done:
		return nil
	default:
	}
	pgid := d.cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-d.done:
		return nil
	case <-time.After(grace):
	}
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	select {
	case <-d.done:
		return nil
	case <-time.After(10 * time.Second):
		return fmt.Errorf("%s (pid %d) did not exit after SIGKILL", d.name, pgid)
	}
}

// tail returns the last n lines of a file, for error messages.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	lines := bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}

// run runs a short command inside the namespace (ip, for the links and addresses).
func (c *Cluster) run(bin string, args ...string) error {
	cmd := exec.Command("nsenter", append([]string{"--net=" + c.host.NetnsPath(), "--", bin}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %v: %w: %s", bin, args, err, bytes.TrimSpace(out))
	}
	return nil
}

// anyExited returns the first daemon that is no longer running, as an error.
func (c *Cluster) anyExited() error {
	var errs []error
	for _, d := range c.daemons {
		if err := d.exited(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
