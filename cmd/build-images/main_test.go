package main

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"log"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/release-to-prod/release-to-prod/pkg/build/imagebuild"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	targetCompressed = 5 << 20 // the size we aim for
	budgetCompressed = 8 << 20 // DESIGN.md §6: step image ≤ 8 MB compressed
)

// TestBuildPushReadBack builds check-image from this checkout for amd64 and arm64, pushes it to a
// loopback registry, reads it back, and builds it again: same commit, same digest.
func TestBuildPushReadBack(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles a step for two platforms (slow on a cold build cache)")
	}
	t.Setenv("SOURCE_DATE_EPOCH", "1767225600")
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	reg := strings.TrimPrefix(srv.URL, "http://") + "/release-to-prod"
	ctx := context.Background()

	var out bytes.Buffer
	layouts := t.TempDir()
	require.NoError(t, run(ctx, []string{"--registry", reg, "--out", layouts, "--version", "9.9.9", "check-image"}, &out))
	t.Log(strings.TrimSpace(out.String()))
	assert.Regexp(t, `^✓ check-image sha256:[0-9a-f]{64} linux/amd64=\d+\.\d\dMiB linux/arm64=\d+\.\d\dMiB → 127\.0\.0\.1:\d+/release-to-prod/check-image:9\.9\.9\n$`, out.String())

	ref, err := name.ParseReference(reg + "/check-image:9.9.9")
	require.NoError(t, err)
	idx, err := remote.Index(ref)
	require.NoError(t, err)
	pushed, err := idx.Digest()
	require.NoError(t, err)
	fromLayout, err := imagebuild.LayoutDigest(filepath.Join(layouts, "check-image"))
	require.NoError(t, err)
	assert.Equal(t, pushed, fromLayout, "the layout holds what was pushed")
	assert.Contains(t, out.String(), pushed.String())

	im, err := idx.IndexManifest()
	require.NoError(t, err)
	var platforms []string
	for _, d := range im.Manifests {
		require.NotNil(t, d.Platform)
		p := d.Platform.OS + "/" + d.Platform.Architecture
		platforms = append(platforms, p)
		t.Run(p, func(t *testing.T) {
			img, err := remote.Image(ref.Context().Digest(d.Digest.String()))
			require.NoError(t, err)
			checkImage(t, img, *d.Platform)
		})
	}
	assert.Equal(t, []string{"linux/amd64", "linux/arm64"}, platforms)

	// Same commit, same SOURCE_DATE_EPOCH: the second build, layout only, has the same digest.
	again := t.TempDir()
	out.Reset()
	require.NoError(t, run(ctx, []string{"--out", again, "--version", "9.9.9", "check-image"}, &out))
	rebuilt, err := imagebuild.LayoutDigest(filepath.Join(again, "check-image"))
	require.NoError(t, err)
	assert.Equal(t, pushed, rebuilt, "reproducible: two builds of one commit give one digest")
}

func checkImage(t *testing.T, img v1.Image, p v1.Platform) {
	cf, err := img.ConfigFile()
	require.NoError(t, err)
	assert.Equal(t, p.OS, cf.OS)
	assert.Equal(t, p.Architecture, cf.Architecture)
	assert.Equal(t, []string{"/usr/local/bin/check-image"}, cf.Config.Entrypoint)
	assert.Equal(t, "65532:65532", cf.Config.User)
	assert.Contains(t, cf.Config.Env, "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt")
	assert.Equal(t, "9.9.9", cf.Config.Labels["org.opencontainers.image.version"])
	assert.Equal(t, "2026-01-01T00:00:00Z", cf.Config.Labels["org.opencontainers.image.created"])
	assert.NotEmpty(t, cf.Config.Labels["org.opencontainers.image.source"])

	m, err := img.Manifest()
	require.NoError(t, err)
	require.Len(t, m.Layers, 2, "the base layer every step shares, then the step's binary")
	size := m.Config.Size
	for _, l := range m.Layers {
		size += l.Size
	}
	t.Logf("%s/%s: %s compressed (target %s, budget %s)", p.OS, p.Architecture,
		MiB(size), MiB(targetCompressed), MiB(budgetCompressed))
	if size > targetCompressed {
		t.Logf("%s/%s: above the %s target", p.OS, p.Architecture, MiB(targetCompressed))
	}
	assert.LessOrEqual(t, size, int64(budgetCompressed), "DESIGN.md §6 budget")

	// The file system as the node unpacks it: the layers flattened.
	rc := mutate.Extract(img)
	defer rc.Close()
	files := map[string]*tar.Header{}
	var elf []byte
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		files[h.Name] = h
		if h.Name == "usr/local/bin/check-image" {
			elf = make([]byte, 20)
			_, err := io.ReadFull(tr, elf)
			require.NoError(t, err)
		}
	}
	bin := files["usr/local/bin/check-image"]
	require.NotNil(t, bin)
	assert.Equal(t, int64(0o755), bin.Mode)
	assert.Zero(t, bin.Uid)
	assert.Equal(t, "\x7fELF", string(elf[:4]), "a Linux binary")
	machine := map[string]uint16{"amd64": 62, "arm64": 183}[p.Architecture]
	assert.Equal(t, machine, uint16(elf[18])|uint16(elf[19])<<8, "ELF machine matches the platform")
	assert.Contains(t, files, "etc/ssl/certs/ca-certificates.crt")
	assert.Contains(t, files, "etc/passwd")
	assert.Contains(t, files, "etc/group")
}

func TestRunRejects(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"nothing to do", []string{"--out", ""}, "nothing to do"},
		{"missing CA bundle", []string{"--ca-certs", "/nonexistent/ca.crt", "check-image"}, "not found: install ca-certificates"},
		{"bad flag", []string{"--nope"}, "flag provided but not defined"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			err := run(context.Background(), tt.args, &out)
			assert.ErrorContains(t, err, tt.want)
		})
	}
}

func TestLine(t *testing.T) {
	got := Line("notify", "sha256:ab", []imagebuild.PlatformSize{
		{Platform: v1.Platform{OS: "linux", Architecture: "amd64"}, Compressed: 5 << 20},
		{Platform: v1.Platform{OS: "linux", Architecture: "arm64"}, Compressed: 3 << 19},
	}, "r.example/notify:0.1.0")
	assert.Equal(t, "✓ notify sha256:ab linux/amd64=5.00MiB linux/arm64=1.50MiB → r.example/notify:0.1.0", got)
}
