// Package gittree checks what a repository tracks: build outputs never enter git. A tracked file
// that is a compiled executable, or larger than a limit (a few generated files excepted by name),
// is reported, so that CI fails before a binary bloats every clone for good.
package gittree

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
)

// MaxBytes is the largest file the repository may track, but for the files Large names.
const MaxBytes = 1 << 20

// Large are the tracked files allowed over MaxBytes, by path: generated, not built.
var Large = []string{"go.sum", "pipelines/release-to-prod/0.1/release-to-prod.yaml"}

// Problem is one tracked file that should not be.
type Problem struct {
	Path   string
	Reason string
}

func (p Problem) String() string { return p.Path + ": " + p.Reason }

// magics are the first bytes of the executable formats Go and C toolchains write.
var magics = []struct {
	name  string
	bytes []byte
}{
	{"an ELF executable", []byte{0x7f, 'E', 'L', 'F'}},
	{"a Mach-O executable", []byte{0xcf, 0xfa, 0xed, 0xfe}},
	{"a Mach-O executable", []byte{0xce, 0xfa, 0xed, 0xfe}},
	{"a Mach-O universal binary", []byte{0xca, 0xfe, 0xba, 0xbe}},
	{"a Windows executable", []byte{'M', 'Z'}},
	{"a WebAssembly module", []byte{0x00, 'a', 's', 'm'}},
}

// Check lists the files git tracks under root (the index, so a staged file counts) and returns
// those that are executables or too large.
func Check(root string) ([]Problem, error) {
	cmd := exec.Command("git", "-C", root, "ls-files", "-z", "--stage")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("listing tracked files in %s: %w: %s", root, err, strings.TrimSpace(stderr.String()))
	}
	var problems []Problem
	for rec := range strings.SplitSeq(strings.TrimSuffix(string(out), "\x00"), "\x00") {
		if rec == "" {
			continue
		}
		// "<mode> <object> <stage>\t<path>"
		meta, path, ok := strings.Cut(rec, "\t")
		if !ok {
			return nil, fmt.Errorf("unexpected git ls-files record %q", rec)
		}
		mode, _, _ := strings.Cut(meta, " ")
		if mode == "120000" || mode == "160000" {
			continue // symlinks and submodules have no content of their own here
		}
		p, err := checkFile(filepath.Join(root, path), path, mode == "100755")
		if err != nil {
			return nil, err
		}
		if p != nil {
			problems = append(problems, *p)
		}
	}
	return problems, nil
}

func checkFile(file, path string, executable bool) (*Problem, error) {
	f, err := os.Open(file)
	if os.IsNotExist(err) {
		return nil, nil // deleted in the work tree, not yet in the index: nothing to read
	}
	if err != nil {
		return nil, fmt.Errorf("reading tracked file: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("reading tracked file: %w", err)
	}
	head := make([]byte, 512)
	n, err := io.ReadFull(f, head)
	if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
		return nil, fmt.Errorf("reading tracked file %s: %w", path, err)
	}
	head = head[:n]
	for _, m := range magics {
		if bytes.HasPrefix(head, m.bytes) {
			return &Problem{path, "is " + m.name + ": build outputs never enter git (git rm --cached it and add it to .gitignore)"}, nil
		}
	}
	if executable && !bytes.HasPrefix(head, []byte("#!")) && bytes.IndexByte(head, 0) >= 0 {
		return &Problem{path, "is an executable binary file: build outputs never enter git (git rm --cached it and add it to .gitignore)"}, nil
	}
	if st.Size() > MaxBytes && !slices.Contains(Large, filepath.ToSlash(path)) {
		return &Problem{path, fmt.Sprintf("is %d bytes, over the %d-byte limit for a tracked file (keep large data out of git, or name a generated file in gittree.Large)", st.Size(), MaxBytes)}, nil
	}
	return nil, nil
}
