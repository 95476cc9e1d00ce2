package gittree

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCheck builds a repository with one file of each kind (the binaries are written by the
// test, so that none is ever committed here) and checks what is reported.
func TestCheck(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Fatalf("git is needed: %v", err)
	}
	elf := append([]byte{0x7f, 'E', 'L', 'F', 2, 1, 1}, make([]byte, 100)...)
	for _, tc := range []struct {
		name    string
		path    string
		content []byte
		mode    os.FileMode
		want    string // substring of the reason; empty: no problem
	}{
		{name: "source", path: "main.go", content: []byte("package main\n"), mode: 0o644},
		{name: "script", path: ".ci/run", content: []byte("#!/usr/bin/env bash\necho hi\n"), mode: 0o755},
		{name: "ELF at the root", path: "tkn-local", content: elf, mode: 0o755, want: "ELF executable"},
		{name: "ELF not marked executable", path: "testdata/x.bin", content: elf, mode: 0o644, want: "ELF executable"},
		{name: "Windows executable", path: "tool.exe", content: []byte("MZ\x90\x00rest"), mode: 0o644, want: "Windows executable"},
		{name: "executable with NUL bytes", path: "blob", content: []byte("\x01\x02\x00\x00data"), mode: 0o755, want: "executable binary file"},
		{name: "large file", path: "data/dump.json", content: bytes.Repeat([]byte("x"), MaxBytes+1), mode: 0o644, want: "over the 1048576-byte limit"},
		{name: "file at the limit", path: "data/ok.json", content: bytes.Repeat([]byte("x"), MaxBytes), mode: 0o644},
		{name: "large generated file named in Large", path: "go.sum", content: bytes.Repeat([]byte("y"), MaxBytes+1), mode: 0o644},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			git(t, root, "init", "-q")
			file := filepath.Join(root, tc.path)
			require.NoError(t, os.MkdirAll(filepath.Dir(file), 0o755))
			require.NoError(t, os.WriteFile(file, tc.content, tc.mode))
			git(t, root, "add", tc.path)
			problems, err := Check(root)
			require.NoError(t, err)
			if tc.want == "" {
				assert.Empty(t, problems)
				return
			}
			require.Len(t, problems, 1)
			assert.Equal(t, tc.path, problems[0].Path)
			assert.Contains(t, problems[0].Reason, tc.want)
		})
	}
}

// TestThisRepository: the project's own tree passes its own check.
func TestThisRepository(t *testing.T) {
	root, err := exec.Command("git", "rev-parse", "--show-toplevel").Output()
	require.NoError(t, err)
	problems, err := Check(string(bytes.TrimSpace(root)))
	require.NoError(t, err)
	assert.Empty(t, problems)
}

func git(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "git %v: %s", args, out)
}
