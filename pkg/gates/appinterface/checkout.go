package appinterface

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// DataDir is the folder of an app-interface checkout that cross-references are relative to: a
// `$ref: /services/foo/namespaces/prod.yml` names data/services/foo/namespaces/prod.yml, as
// qontract-server bundles it.
const DataDir = "data"

// maxFileSize bounds what is read from the workspace: a SaaS file is a few kilobytes, and a
// runaway file (or /dev/zero behind a symlink) must not exhaust the step's 64 MiB.
const maxFileSize = 4 << 20

// Checkout is an app-interface checkout (or a folder holding just the SaaS file). Every read goes
// through an os.Root, so neither a `..` nor a symlink can leave it.
type Checkout struct {
	dir  string
	root *os.Root
	// hasData is false when the workspace holds only the SaaS file: cross-references can then
	// be checked for form but not followed.
	hasData bool
}

// OpenCheckout opens dir. The caller closes it.
func OpenCheckout(dir string) (*Checkout, error) {
	if dir == "" {
		return nil, errors.New("checkout directory is empty")
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("opening checkout %s: %w", dir, err)
	}
	c := &Checkout{dir: dir, root: root}
	if st, err := root.Stat(DataDir); err == nil && st.IsDir() {
		c.hasData = true
	}
	return c, nil
}

// Close releases the checkout.
func (c *Checkout) Close() error { return c.root.Close() }

// HasData reports whether the checkout has a data/ folder to resolve cross-references in.
func (c *Checkout) HasData() bool { return c.hasData }

// CleanRelative checks a path given as a parameter: relative to the checkout, no `..`, and
// returns it cleaned with forward slashes.
func CleanRelative(p string) (string, error) {
	switch {
	case strings.TrimSpace(p) == "":
		return "", errors.New("path is empty")
	case strings.ContainsRune(p, 0):
		return "", fmt.Errorf("path %q contains a NUL byte", p)
	case strings.ContainsRune(p, '\\'):
		return "", fmt.Errorf("path %q contains a backslash: use forward slashes", p)
	case path.IsAbs(p) || filepath.IsAbs(p):
		return "", fmt.Errorf("path %q is absolute: give it relative to the checkout (e.g. data/services/<app>/cicd/saas.yml)", p)
	}
	for _, el := range strings.Split(p, "/") {
		if el == ".." {
			return "", fmt.Errorf("path %q contains '..': it must stay inside the checkout", p)
		}
	}
	clean := path.Clean(p)
	if clean == "." {
		return "", fmt.Errorf("path %q names the checkout itself, not a file", p)
	}
	return clean, nil
}

// RefPath maps a cross-reference to its file in the checkout, checking its form: it must start
// with "/", and must not contain `..`.
func RefPath(ref string) (string, error) {
	if !strings.HasPrefix(ref, "/") {
		return "", fmt.Errorf("$ref %q must start with '/' (it is relative to the checkout's %s/ folder)", ref, DataDir)
	}
	rel, err := CleanRelative(strings.TrimLeft(ref, "/"))
	if err != nil {
		return "", fmt.Errorf("$ref %q: %w", ref, err)
	}
	return DataDir + "/" + rel, nil
}

// ReadFile reads rel (already cleaned) from the checkout. Errors name the path relative to the
// checkout and say why in words a user can act on.
func (c *Checkout) ReadFile(rel string) ([]byte, error) {
	f, err := c.root.Open(rel)
	if err != nil {
		return nil, explainOpen(rel, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", rel, err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", rel)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", rel, err)
	}
	if len(b) > maxFileSize {
		return nil, fmt.Errorf("%s is larger than %d bytes", rel, maxFileSize)
	}
	return b, nil
}

func explainOpen(rel string, err error) error {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%s does not exist in the checkout", rel)
	case strings.Contains(err.Error(), "escapes from parent"):
		// os.Root's only signal for a symlink (or ..) leaving the root is this message.
		return fmt.Errorf("%s resolves outside the checkout (a symlink escapes it): refused", rel)
	}
	return fmt.Errorf("opening %s: %w", rel, err)
}
