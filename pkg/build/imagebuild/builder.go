package imagebuild

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Builder compiles steps from a checkout and assembles their images.
type Builder struct {
	RepoRoot  string        // module root; binaries are built from ./steps/<name>
	Go        string        // go command; "go" from PATH when empty
	Platforms []v1.Platform // Platforms when empty
	CACerts   []byte        // PEM bundle copied to /etc/ssl/certs/ca-certificates.crt
	Meta      Metadata      // Step is set per build
}

// Built is a step's image index and what was measured while building it.
type Built struct {
	Step  string
	Index v1.ImageIndex
	Sizes []PlatformSize
}

// PlatformSize is the compressed size of one platform's image: layers plus config.
type PlatformSize struct {
	Platform   v1.Platform
	Digest     v1.Hash
	Compressed int64
}

// Steps lists the step names: the folders of steps/ holding a main.go.
func Steps(repoRoot string) ([]string, error) {
	entries, err := os.ReadDir(filepath.Join(repoRoot, "steps"))
	if err != nil {
		return nil, fmt.Errorf("list steps: %w", err)
	}
	var steps []string
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		if _, err := os.Stat(filepath.Join(repoRoot, "steps", e.Name(), "main.go")); err == nil {
			steps = append(steps, e.Name())
		}
	}
	sort.Strings(steps)
	return steps, nil
}

// Build cross-compiles a step for every platform into a temporary folder and returns its index.
func (b *Builder) Build(ctx context.Context, step string) (*Built, error) {
	if _, err := os.Stat(filepath.Join(b.RepoRoot, "steps", step, "main.go")); err != nil {
		return nil, fmt.Errorf("step %s: no steps/%s/main.go under %s", step, step, b.RepoRoot)
	}
	platforms := b.Platforms
	if len(platforms) == 0 {
		platforms = Platforms
	}
	tmp, err := os.MkdirTemp("", "build-images-")
	if err != nil {
		return nil, fmt.Errorf("temp dir: %w", err)
	}
	defer os.RemoveAll(tmp)

	m := b.Meta
	m.Step = step
	var images []PlatformImage
	for _, p := range platforms {
		bin, err := b.compile(ctx, step, p, tmp)
		if err != nil {
			return nil, err
		}
		img, err := Image(m, p, bin, b.CACerts)
		if err != nil {
			return nil, err
		}
		images = append(images, PlatformImage{Platform: p, Image: img})
	}
	idx, err := Index(m, images)
	if err != nil {
		return nil, err
	}
	sizes, err := Sizes(idx)
	if err != nil {
		return nil, err
	}
	return &Built{Step: step, Index: idx, Sizes: sizes}, nil
}

func (b *Builder) compile(ctx context.Context, step string, p v1.Platform, dir string) ([]byte, error) {
	goCmd := b.Go
	if goCmd == "" {
		goCmd = "go"
	}
	out := filepath.Join(dir, step+"-"+p.OS+"-"+p.Architecture)
	cmd := exec.CommandContext(ctx, goCmd, "build", "-trimpath", "-ldflags=-s -w", "-o", out, "./steps/"+step)
	cmd.Dir = b.RepoRoot
	// The microarchitecture levels are pinned so a developer's GOAMD64=v3 cannot change the digest.
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+p.OS, "GOARCH="+p.Architecture,
		"GOAMD64=v1", "GOARM64=v8.0")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("go build ./steps/%s for %s/%s: %w\n%s", step, p.OS, p.Architecture, err, stderr.String())
	}
	bin, err := os.ReadFile(out)
	if err != nil {
		return nil, fmt.Errorf("read binary: %w", err)
	}
	return bin, nil
}

// Sizes measures each platform image of an index: the compressed bytes a node pulls.
func Sizes(idx v1.ImageIndex) ([]PlatformSize, error) {
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("index manifest: %w", err)
	}
	var sizes []PlatformSize
	for _, d := range im.Manifests {
		img, err := idx.Image(d.Digest)
		if err != nil {
			return nil, fmt.Errorf("image %s: %w", d.Digest, err)
		}
		m, err := img.Manifest()
		if err != nil {
			return nil, fmt.Errorf("manifest %s: %w", d.Digest, err)
		}
		total := m.Config.Size
		for _, l := range m.Layers {
			total += l.Size
		}
		ps := PlatformSize{Digest: d.Digest, Compressed: total}
		if d.Platform != nil {
			ps.Platform = *d.Platform
		}
		sizes = append(sizes, ps)
	}
	return sizes, nil
}

// WriteLayout writes the index as an OCI image layout in dir (replacing what was there), with
// the reference it is pushed as in the org.opencontainers.image.ref.name annotation.
func WriteLayout(dir string, idx v1.ImageIndex, refName string) error {
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("clean %s: %w", dir, err)
	}
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return fmt.Errorf("oci layout %s: %w", dir, err)
	}
	var opts []layout.Option
	if refName != "" {
		opts = append(opts, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": refName}))
	}
	if err := p.AppendIndex(idx, opts...); err != nil {
		return fmt.Errorf("oci layout %s: %w", dir, err)
	}
	return nil
}

// LayoutDigest reads back the digest of the index a step's layout holds.
func LayoutDigest(dir string) (v1.Hash, error) {
	ii, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		return v1.Hash{}, fmt.Errorf("oci layout %s: %w", dir, err)
	}
	im, err := ii.IndexManifest()
	if err != nil {
		return v1.Hash{}, fmt.Errorf("oci layout %s: %w", dir, err)
	}
	if len(im.Manifests) != 1 {
		return v1.Hash{}, fmt.Errorf("oci layout %s: want 1 index, found %d entries", dir, len(im.Manifests))
	}
	return im.Manifests[0].Digest, nil
}

// Push writes the index and its images to ref, with credentials from the docker config.
func Push(ctx context.Context, ref name.Reference, idx v1.ImageIndex, opts ...remote.Option) error {
	opts = append([]remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(authn.DefaultKeychain)}, opts...)
	if err := remote.WriteIndex(ref, idx, opts...); err != nil {
		return fmt.Errorf("push %s: %w", ref, err)
	}
	return nil
}

// GitRevision returns the commit of HEAD in dir, or "" outside a git checkout.
func GitRevision(ctx context.Context, dir string) string {
	out, err := git(ctx, dir, "rev-parse", "HEAD")
	if err != nil {
		return ""
	}
	return out
}

// SourceDate is the time stamped in images: SOURCE_DATE_EPOCH when set, else the commit time of
// HEAD, else the Unix epoch.
func SourceDate(ctx context.Context, dir string) (time.Time, error) {
	if v, ok := os.LookupEnv("SOURCE_DATE_EPOCH"); ok && v != "" {
		sec, err := strconv.ParseInt(v, 10, 64)
		if err != nil || sec < 0 {
			return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH=%q: want seconds since 1970 (a non-negative integer)", v)
		}
		return time.Unix(sec, 0).UTC(), nil
	}
	if out, err := git(ctx, dir, "log", "-1", "--format=%ct"); err == nil {
		if sec, err := strconv.ParseInt(out, 10, 64); err == nil {
			return time.Unix(sec, 0).UTC(), nil
		}
	}
	return time.Unix(0, 0).UTC(), nil
}

func git(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("git %s: %w", strings.Join(args, " "), err)
	}
	s := strings.TrimSpace(string(out))
	if s == "" {
		return "", errors.New("git: empty output")
	}
	return s, nil
}

// ModuleRoot returns the nearest folder at or above dir holding a go.mod.
func ModuleRoot(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("module root: %w", err)
	}
	for d := abs; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no go.mod at or above %s", abs)
		}
	}
}
