package host

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Snapshot is the host state a run must give back, as a test compares it before the run and
// after its Stop.
type Snapshot struct {
	Sysctls  map[string]string
	Paths    map[string]bool // hostPaths, by whether they exist
	LogLinks []string
	Cgroups  []string // top-level cgroups of every hierarchy
}

// volatileSysctls change on their own (counters, entropy, the kernel's own tuning) and are not
// compared.
var volatileSysctls = []string{
	"kernel/random/", "kernel/ns_last_pid", "kernel/pty/nr", "kernel/tainted",
	"kernel/perf_event_max_sample_rate", "fs/file-nr", "fs/dentry-state", "fs/inode-nr",
	"fs/inode-state", "fs/aio-nr", "fs/quota/", "fs/binfmt_misc/", "fs/dentry-negative",
}

// TakeSnapshot reads the host state a run must give back.
func TakeSnapshot() (Snapshot, error) {
	s := Snapshot{Sysctls: map[string]string{}, Paths: map[string]bool{}}
	for _, top := range []string{"kernel", "vm", "fs", "user"} {
		_ = filepath.WalkDir(filepath.Join("/proc/sys", top), func(p string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return nil
			}
			key := strings.TrimPrefix(p, "/proc/sys/")
			for _, v := range volatileSysctls {
				if strings.HasPrefix(key, v) {
					return nil
				}
			}
			if b, err := os.ReadFile(p); err == nil {
				s.Sysctls[key] = strings.TrimSpace(string(b))
			}
			return nil
		})
	}
	for _, p := range hostPaths {
		_, err := os.Lstat(p)
		s.Paths[p] = err == nil
	}
	hs, err := CgroupHierarchies()
	if err != nil {
		return s, err
	}
	for _, h := range hs {
		entries, err := os.ReadDir(h)
		if err != nil {
			return s, fmt.Errorf("snapshot: %w", err)
		}
		for _, e := range entries {
			if e.IsDir() {
				s.Cgroups = append(s.Cgroups, filepath.Join(h, e.Name()))
			}
		}
	}
	if entries, err := os.ReadDir(containerLogLinks); err == nil {
		for _, e := range entries {
			s.LogLinks = append(s.LogLinks, e.Name())
		}
	}
	return s, nil
}
