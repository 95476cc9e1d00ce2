package cluster

import (
	"os"
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
