package host

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// The host state a run changes and must give back. Everything else the daemons write is under
// the run's own directory or inside its network namespace (addresses, routes, iptables, and
// net.* sysctls are per namespace and vanish with it).

// kubeletSysctls are the host-wide sysctls the kubelet sets at start
// (pkg/kubelet/cm/container_manager_linux.go setupKernelTunables); they are recorded before the
// kubelet starts and written back on Stop.
var kubeletSysctls = []string{
	"kernel/panic",
	"kernel/panic_on_oops",
	"vm/overcommit_memory",
	"vm/panic_on_oom",
	"kernel/keys/root_maxkeys",
	"kernel/keys/root_maxbytes",
}

// hostPaths are the fixed paths the kubelet, containerd, runc and the CNI plugins write to
// whatever their configuration says. A path that did not exist before the run is removed after
// it; /var/log/containers, where the kubelet links every container's log, is cleaned of this
// run's links when it existed before.
var hostPaths = []string{
	"/var/log/containers",
	"/var/log/pods",
	"/var/lib/kubelet",
	"/var/lib/cni",
	"/var/lib/containerd",
	"/run/containerd",
	"/run/runc",
	"/run/kubernetes",
	"/run/mount", // util-linux mount(8)'s utab, when the kubelet runs mount
	"/run/netns",
	"/etc/kubernetes",
	"/etc/cni",
	"/opt/cni",
	"/opt/containerd",
}

const containerLogLinks = "/var/log/containers"

// runState is what a run records in its directory before it changes the host, so that Stop —
// or the sweep at the start of a later run, when this one was killed — can give it back.
type runState struct {
	PID        int               `json:"pid"`
	PIDStart   uint64            `json:"pidStart"` // start time of PID, in clock ticks since boot
	Dir        string            `json:"dir"`
	CgroupName string            `json:"cgroupName"` // the kubelet's cgroupRoot, below every hierarchy
	Sysctls    map[string]string `json:"sysctls"`    // kubeletSysctls before the run
	Absent     []string          `json:"absent"`     // hostPaths that did not exist before the run
	PodNetns   []string          `json:"podNetns"`   // entries of podNetnsDir before the run
}

// podNetnsDir is where containerd 1.6's CRI pins each pod sandbox's network namespace (a bind
// mount of an nsfs file named cni-<uuid>), whatever its configuration says.
const podNetnsDir = "/run/netns"

func stateFile(dir string) string { return filepath.Join(dir, "state.json") }

func (s *runState) save() error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("run state: %w", err)
	}
	if err := os.WriteFile(stateFile(s.Dir), b, 0o600); err != nil {
		return fmt.Errorf("run state: %w", err)
	}
	return nil
}

func loadState(dir string) (*runState, error) {
	b, err := os.ReadFile(stateFile(dir))
	if err != nil {
		return nil, fmt.Errorf("run state: %w", err)
	}
	var s runState
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("run state %s: %w", stateFile(dir), err)
	}
	if s.Dir != dir {
		return nil, fmt.Errorf("run state %s names another directory %q", stateFile(dir), s.Dir)
	}
	return &s, nil
}

// recordHost captures the host state before anything starts.
func recordHost(dir, cgroupName string) (*runState, error) {
	start, err := processStart(os.Getpid())
	if err != nil {
		return nil, err
	}
	s := &runState{PID: os.Getpid(), PIDStart: start, Dir: dir, CgroupName: cgroupName, Sysctls: map[string]string{}}
	for _, k := range kubeletSysctls {
		v, err := readSysctl(k)
		if err != nil {
			return nil, err
		}
		s.Sysctls[k] = v
	}
	for _, p := range hostPaths {
		if _, err := os.Lstat(p); errors.Is(err, fs.ErrNotExist) {
			s.Absent = append(s.Absent, p)
		}
	}
	entries, _ := os.ReadDir(podNetnsDir)
	s.PodNetns = []string{}
	for _, e := range entries {
		s.PodNetns = append(s.PodNetns, e.Name())
	}
	return s, s.save()
}

func readSysctl(key string) (string, error) {
	b, err := os.ReadFile(filepath.Join("/proc/sys", key))
	if err != nil {
		return "", fmt.Errorf("reading sysctl %s: %w", key, err)
	}
	return strings.TrimSpace(string(b)), nil
}

// processStart returns the start time of a process (field 22 of /proc/PID/stat), which tells a
// live owner of a run directory from a new process that reuses its PID.
func processStart(pid int) (uint64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("process %d: %w", pid, err)
	}
	// The command name (field 2) may hold spaces; fields are counted after its closing ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("process %d: unreadable stat", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 {
		return 0, fmt.Errorf("process %d: short stat", pid)
	}
	return strconv.ParseUint(f[19], 10, 64)
}

// alive says whether the process that recorded s still runs.
func (s *runState) alive() bool {
	start, err := processStart(s.PID)
	return err == nil && start == s.PIDStart
}

// restoreHost gives back what recordHost captured and removes what the run left outside its
// directory. Processes must be gone and mounts unmounted first.
func (s *runState) restoreHost() error {
	var errs []error
	for _, k := range sortedKeys(s.Sysctls) {
		want := s.Sysctls[k]
		if got, err := readSysctl(k); err == nil && got == want {
			continue
		}
		if err := os.WriteFile(filepath.Join("/proc/sys", k), []byte(want), 0o644); err != nil {
			errs = append(errs, fmt.Errorf("restoring sysctl %s=%s: %w", k, want, err))
		}
	}
	if err := removeCgroups(s.CgroupName); err != nil {
		errs = append(errs, err)
	}
	if err := s.removePodNetns(); err != nil {
		errs = append(errs, err)
	}
	absent := map[string]bool{}
	for _, p := range s.Absent {
		absent[p] = true
	}
	if !absent[containerLogLinks] {
		if err := removeLogLinks(s.Dir); err != nil {
			errs = append(errs, err)
		}
	}
	for _, p := range s.Absent {
		if _, err := os.Lstat(p); err != nil {
			continue
		}
		if m := mountsUnder(p); len(m) > 0 {
			errs = append(errs, fmt.Errorf("not removing %s: still mounted there: %s", p, strings.Join(m, ", ")))
			continue
		}
		if err := os.RemoveAll(p); err != nil {
			errs = append(errs, fmt.Errorf("removing %s, created by the run: %w", p, err))
		}
	}
	return errors.Join(errs...)
}

// removePodNetns unpins the pod network namespaces containerd made during the run: the
// cni-* entries of podNetnsDir that were not there before it.
func (s *runState) removePodNetns() error {
	before := map[string]bool{}
	for _, n := range s.PodNetns {
		before[n] = true
	}
	entries, err := readDirIfAny(podNetnsDir)
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range entries {
		if before[e.Name()] || !strings.HasPrefix(e.Name(), "cni-") {
			continue
		}
		p := filepath.Join(podNetnsDir, e.Name())
		if err := unix.Unmount(p, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) {
			errs = append(errs, fmt.Errorf("unmounting pod netns %s: %w", p, err))
			continue
		}
		if err := os.Remove(p); err != nil {
			errs = append(errs, fmt.Errorf("removing pod netns %s: %w", p, err))
		}
	}
	return errors.Join(errs...)
}

// teardown ends what the run in dir left on the host, each part only once the one before it
// is gone: its processes (by cgroup, by dir and in its network namespace ns, whose inode is
// given), the mounts below dir, ns, the host state the run recorded (s) — and dir itself only
// when all of that and whatever came before it (errs) went without an error, since RemoveAll
// would follow a bind mount. Stop and Sweep both end a run with it; a nil s or ns, or an empty
// dir, is a part the run never made.
func teardown(dir string, s *runState, ns *netns, inode uint64, errs []error) []error {
	if s != nil {
		if err := killAll(dir, s.CgroupName, inode, 30*time.Second); err != nil {
			errs = append(errs, err)
		}
	}
	if dir != "" {
		if err := unmountUnder(dir); err != nil {
			errs = append(errs, err)
		}
	}
	if ns != nil {
		if err := ns.remove(); err != nil {
			errs = append(errs, err)
		}
	}
	if s != nil {
		if err := s.restoreHost(); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) == 0 && dir != "" {
		if err := os.RemoveAll(dir); err != nil {
			errs = append(errs, fmt.Errorf("removing %s: %w", dir, err))
		}
	}
	return errs
}

// readDirIfAny lists dir; a dir that does not exist has no entries.
func readDirIfAny(dir string) ([]os.DirEntry, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", dir, err)
	}
	return entries, nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// removeLogLinks removes the links the kubelet made in /var/log/containers to logs under dir.
func removeLogLinks(dir string) error {
	entries, err := readDirIfAny(containerLogLinks)
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range entries {
		p := filepath.Join(containerLogLinks, e.Name())
		target, err := os.Readlink(p)
		if err != nil || !strings.HasPrefix(target, dir+"/") {
			continue
		}
		if err := os.Remove(p); err != nil {
			errs = append(errs, fmt.Errorf("removing log link %s: %w", p, err))
		}
	}
	return errors.Join(errs...)
}

// CgroupHierarchies lists the mount points of every cgroup hierarchy (v1 controllers and the
// unified v2 tree).
func CgroupHierarchies() ([]string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("reading mounts: %w", err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		mi, ok := parseMountinfo(sc.Text())
		if ok && (mi.fstype == "cgroup" || mi.fstype == "cgroup2") {
			out = append(out, mi.point)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading mounts: %w", err)
	}
	return out, nil
}

// createCgroups makes the kubelet's cgroupRoot in every hierarchy (the kubelet refuses a root
// that does not exist). A new cpuset cgroup starts with no CPUs and no memory nodes: it gets
// its parent's.
func createCgroups(name string) error {
	hs, err := CgroupHierarchies()
	if err != nil {
		return err
	}
	for _, h := range hs {
		p := filepath.Join(h, name)
		if err := os.Mkdir(p, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("creating cgroup %s: %w", p, err)
		}
		for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
			b, err := os.ReadFile(filepath.Join(h, f))
			if err != nil {
				continue // not the cpuset hierarchy
			}
			if err := os.WriteFile(filepath.Join(p, f), b, 0o644); err != nil {
				return fmt.Errorf("creating cgroup %s: %s: %w", p, f, err)
			}
		}
	}
	return nil
}

// cgroupProcs returns the processes in the cgroup subtree name of every hierarchy.
func cgroupProcs(name string) []int {
	hs, _ := CgroupHierarchies()
	seen := map[int]bool{}
	var pids []int
	for _, h := range hs {
		_ = filepath.WalkDir(filepath.Join(h, name), func(p string, d fs.DirEntry, err error) error {
			if err != nil || !d.IsDir() {
				return nil
			}
			b, err := os.ReadFile(filepath.Join(p, "cgroup.procs"))
			if err != nil {
				return nil
			}
			for _, f := range strings.Fields(string(b)) {
				if pid, err := strconv.Atoi(f); err == nil && !seen[pid] {
					seen[pid] = true
					pids = append(pids, pid)
				}
			}
			return nil
		})
	}
	return pids
}

// removeCgroups removes the subtree name from every hierarchy, deepest first. A cgroup can be
// removed only once empty, and an exiting process leaves it a moment after SIGKILL: retry
// briefly.
func removeCgroups(name string) error {
	if name == "" || strings.Contains(name, "..") || strings.Trim(name, "/") == "" {
		return fmt.Errorf("refusing to remove cgroup %q", name)
	}
	hs, err := CgroupHierarchies()
	if err != nil {
		return err
	}
	var errs []error
	for _, h := range hs {
		var dirs []string
		_ = filepath.WalkDir(filepath.Join(h, name), func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				dirs = append(dirs, p)
			}
			return nil
		})
		for i := len(dirs) - 1; i >= 0; i-- {
			var err error
			for deadline := time.Now().Add(10 * time.Second); ; {
				if err = unix.Rmdir(dirs[i]); err == nil || errors.Is(err, unix.ENOENT) || time.Now().After(deadline) {
					break
				}
				time.Sleep(50 * time.Millisecond) // polling: the kernel gives no event for "empty"
			}
			if err != nil && !errors.Is(err, unix.ENOENT) {
				errs = append(errs, fmt.Errorf("removing cgroup %s: %w", dirs[i], err))
			}
		}
	}
	return errors.Join(errs...)
}

type mountEntry struct{ point, fstype string }

// parseMountinfo reads one line of /proc/PID/mountinfo; mount points with spaces come escaped
// as \040.
func parseMountinfo(line string) (mountEntry, bool) {
	f := strings.Fields(line)
	if len(f) < 10 {
		return mountEntry{}, false
	}
	sep := -1
	for i := 6; i < len(f); i++ {
		if f[i] == "-" {
			sep = i
			break
		}
	}
	if sep < 0 || sep+1 >= len(f) {
		return mountEntry{}, false
	}
	return mountEntry{point: unescapeMount(f[4]), fstype: f[sep+1]}, true
}

func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// mountsUnder lists the mount points at or below dir, deepest (last mounted) first.
func mountsUnder(dir string) []string {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		mi, ok := parseMountinfo(line)
		if ok && (mi.point == dir || strings.HasPrefix(mi.point, dir+"/")) {
			out = append(out, mi.point)
		}
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}

// unmountUnder detaches every mount at or below dir. A mount may be stacked several times on
// one point (the kubelet bind-mounts its root onto itself): repeat until none is left.
func unmountUnder(dir string) error {
	for range 20 {
		ms := mountsUnder(dir)
		if len(ms) == 0 {
			return nil
		}
		for _, m := range ms {
			if err := unix.Unmount(m, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
				return fmt.Errorf("unmounting %s: %w", m, err)
			}
		}
	}
	return fmt.Errorf("mounts left under %s: %s", dir, strings.Join(mountsUnder(dir), ", "))
}

// runProcesses lists the processes that belong to a run: their command line names a file in
// its directory (every daemon and containerd's shims), they are in its cgroups (containers), or
// they are in its network namespace.
func runProcesses(dir, cgroupName string, netnsInode uint64) []int {
	self := os.Getpid()
	seen := map[int]bool{}
	var pids []int
	add := func(pid int) {
		if pid != self && pid > 1 && !seen[pid] {
			seen[pid] = true
			pids = append(pids, pid)
		}
	}
	for _, pid := range cgroupProcs(cgroupName) {
		add(pid)
	}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if cmd, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); err == nil && bytes.Contains(cmd, []byte(dir+"/")) {
			add(pid)
			continue
		}
		if netnsInode != 0 {
			var st unix.Stat_t
			if unix.Stat(fmt.Sprintf("/proc/%d/ns/net", pid), &st) == nil && st.Ino == netnsInode {
				add(pid)
			}
		}
	}
	return pids
}

// killAll sends SIGKILL to every process of the run until none is left or the deadline passes.
func killAll(dir, cgroupName string, netnsInode uint64, deadline time.Duration) error {
	end := time.Now().Add(deadline)
	for {
		pids := runProcesses(dir, cgroupName, netnsInode)
		if len(pids) == 0 {
			return nil
		}
		if time.Now().After(end) {
			return fmt.Errorf("processes of the run still alive after SIGKILL: %v", pids)
		}
		for _, pid := range pids {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		time.Sleep(100 * time.Millisecond) // polling: a killed process leaves /proc when reaped
	}
}
