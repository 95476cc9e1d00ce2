package host

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseMountinfo(t *testing.T) {
	for _, tc := range []struct {
		line string
		want mountEntry
		ok   bool
	}{
		{line: "31 30 0:28 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu",
			want: mountEntry{point: "/sys/fs/cgroup/cpu", fstype: "cgroup"}, ok: true},
		{line: "40 22 0:4 net:[4026532] /tmp/release-to-prod-cluster/run-1/netns rw shared:5 - nsfs nsfs rw",
			want: mountEntry{point: "/tmp/release-to-prod-cluster/run-1/netns", fstype: "nsfs"}, ok: true},
		{line: `50 22 0:50 / /tmp/a\040b rw - tmpfs tmpfs rw`, want: mountEntry{point: "/tmp/a b", fstype: "tmpfs"}, ok: true},
		{line: "", ok: false},
		{line: "1 2 3 4 5 6 7 8 9 10", ok: false}, // no "-" separator
	} {
		got, ok := parseMountinfo(tc.line)
		assert.Equal(t, tc.ok, ok, tc.line)
		if tc.ok {
			assert.Equal(t, tc.want, got, tc.line)
		}
	}
}

func TestProcessStartTellsAProcessFromItsSuccessor(t *testing.T) {
	start, err := processStart(os.Getpid())
	require.NoError(t, err)
	s := &runState{PID: os.Getpid(), PIDStart: start}
	assert.True(t, s.alive())
	s.PIDStart++ // the same PID, started at another time: another process
	assert.False(t, s.alive())
	_, err = processStart(-1)
	assert.Error(t, err)
}

func TestRemoveCgroupsRefusesTheRoot(t *testing.T) {
	for _, name := range []string{"", "/", "//", "/../x"} {
		assert.Error(t, removeCgroups(name), "%q", name)
	}
}

func TestTeardownRemovesTheFolderOnlyWhenAllWent(t *testing.T) {
	for _, tc := range []struct {
		name   string
		before []error
		kept   bool
	}{
		{name: "nothing failed: the folder goes"},
		{name: "an earlier step failed: the folder stays for the next Sweep", before: []error{errors.New("kubelet did not stop")}, kept: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "run-1")
			require.NoError(t, os.MkdirAll(filepath.Join(dir, "logs"), 0o755))
			errs := teardown(dir, nil, nil, 0, tc.before)
			assert.Equal(t, tc.before, errs)
			_, err := os.Stat(dir)
			assert.Equal(t, tc.kept, err == nil, "folder kept")
		})
	}
}

func TestReadDirIfAny(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "a"), nil, 0o644))
	file := filepath.Join(dir, "a")
	for _, tc := range []struct {
		name, dir string
		entries   int
		err       bool
	}{
		{name: "a folder", dir: dir, entries: 1},
		{name: "no such folder: none", dir: filepath.Join(dir, "missing")},
		{name: "not a folder", dir: file, err: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			entries, err := readDirIfAny(tc.dir)
			assert.Equal(t, tc.err, err != nil, "error: %v", err)
			assert.Len(t, entries, tc.entries)
		})
	}
}
