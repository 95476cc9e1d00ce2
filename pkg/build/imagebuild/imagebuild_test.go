package imagebuild

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const testPEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"

var epoch = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

type entry struct {
	name     string
	mode     int64
	uid, gid int
	typ      byte
	data     string
	mtime    time.Time
}

func readTar(t *testing.T, r io.Reader) []entry {
	t.Helper()
	var out []entry
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		require.NoError(t, err)
		data, err := io.ReadAll(tr)
		require.NoError(t, err)
		out = append(out, entry{h.Name, h.Mode, h.Uid, h.Gid, h.Typeflag, string(data), h.ModTime.UTC()})
	}
}

func TestLayers(t *testing.T) {
	mtime := epoch.Add(999 * time.Millisecond)
	base, err := BaseFS([]byte(testPEM), mtime)
	require.NoError(t, err)
	own, err := BinaryFS("check-image", []byte("ELF"), mtime)
	require.NoError(t, err)

	var names []string
	byName := map[string]entry{}
	for _, layer := range [][]byte{base, own} {
		var layerNames []string
		for _, e := range readTar(t, bytes.NewReader(layer)) {
			layerNames = append(layerNames, e.name)
			byName[e.name] = e
			assert.Equal(t, epoch, e.mtime, "%s: fixed, whole-second mtime", e.name)
			if e.name != "home/nonroot/" {
				assert.Zero(t, e.uid, "%s: owned by root, not the build user", e.name)
				assert.Zero(t, e.gid, e.name)
			}
		}
		assert.IsIncreasing(t, layerNames, "entries sorted")
		names = append(names, layerNames...)
	}
	assert.Equal(t, []string{"usr/local/bin/check-image"}, names[len(names)-1:], "the step's layer holds its binary alone")

	tests := []struct {
		name string
		mode int64
		typ  byte
		data string
	}{
		{"usr/local/bin/check-image", 0o755, tar.TypeReg, "ELF"},
		{"etc/ssl/certs/ca-certificates.crt", 0o644, tar.TypeReg, testPEM},
		{"etc/passwd", 0o644, tar.TypeReg, passwd},
		{"etc/group", 0o644, tar.TypeReg, group},
		{"usr/local/bin/", 0o755, tar.TypeDir, ""},
		{"tmp/", 0o1777, tar.TypeDir, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, ok := byName[tt.name]
			require.True(t, ok, "missing %s in %v", tt.name, names)
			assert.Equal(t, tt.mode, e.mode)
			assert.Equal(t, tt.typ, e.typ)
			assert.Equal(t, tt.data, e.data)
		})
	}
	assert.Equal(t, NonRootUID, byName["home/nonroot/"].uid)
	assert.Contains(t, passwd, "nonroot:x:65532:65532:")
}

func TestLayersReject(t *testing.T) {
	tests := []struct {
		name, step     string
		binary, certs  []byte
		wantErrContain string
	}{
		{"path in step", "../evil", []byte("x"), []byte(testPEM), "invalid step name"},
		{"empty step", "", []byte("x"), []byte(testPEM), "invalid step name"},
		{"no binary", "s", nil, []byte(testPEM), "empty binary"},
		{"no certs", "s", []byte("x"), nil, "CA certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Image(Metadata{Step: tt.step, Created: epoch}, Platforms[0], tt.binary, tt.certs)
			assert.ErrorContains(t, err, tt.wantErrContain)
		})
	}
}

// TestBaseLayerShared: the base layer is the same blob in every step's image and on every
// platform, so a node pulls it once; the step's own layer differs.
func TestBaseLayerShared(t *testing.T) {
	layerDigests := func(step, arch string) []v1.Hash {
		m := testMeta()
		m.Step = step
		img, err := Image(m, v1.Platform{OS: "linux", Architecture: arch}, []byte("ELF-"+step+arch), []byte(testPEM))
		require.NoError(t, err)
		layers, err := img.Layers()
		require.NoError(t, err)
		require.Len(t, layers, 2)
		var ds []v1.Hash
		for _, l := range layers {
			d, err := l.Digest()
			require.NoError(t, err)
			ds = append(ds, d)
		}
		return ds
	}
	a, b, c := layerDigests("check-image", "amd64"), layerDigests("notify", "amd64"), layerDigests("notify", "arm64")
	assert.Equal(t, a[0], b[0], "same base layer in two steps' images")
	assert.Equal(t, b[0], c[0], "same base layer on two platforms")
	assert.NotEqual(t, a[1], b[1], "each step its own binary layer")
	assert.NotEqual(t, b[1], c[1])
}

func testMeta() Metadata {
	return Metadata{Step: "check-image", Version: "0.1.0", Source: "https://example.com/r", Revision: "abc", Created: epoch}
}

func TestImageConfig(t *testing.T) {
	img, err := Image(testMeta(), v1.Platform{OS: "linux", Architecture: "arm64"}, []byte("ELF"), []byte(testPEM))
	require.NoError(t, err)

	cf, err := img.ConfigFile()
	require.NoError(t, err)
	assert.Equal(t, "linux", cf.OS)
	assert.Equal(t, "arm64", cf.Architecture)
	assert.Equal(t, epoch, cf.Created.UTC())
	assert.Equal(t, "65532:65532", cf.Config.User)
	assert.Equal(t, []string{"/usr/local/bin/check-image"}, cf.Config.Entrypoint)
	assert.Contains(t, cf.Config.Env, "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt")
	assert.Equal(t, "/", cf.Config.WorkingDir)
	assert.Equal(t, map[string]string{
		LabelSource:      "https://example.com/r",
		LabelRevision:    "abc",
		LabelDescription: "release-to-prod step check-image",
		LabelVersion:     "0.1.0",
		LabelTitle:       "check-image",
		LabelCreated:     "2026-01-02T03:04:05Z",
	}, cf.Config.Labels)
	require.Len(t, cf.History, 2)

	mt, err := img.MediaType()
	require.NoError(t, err)
	assert.Equal(t, types.OCIManifestSchema1, mt)
	layers, err := img.Layers()
	require.NoError(t, err)
	require.Len(t, layers, 2)
	for _, l := range layers {
		lmt, err := l.MediaType()
		require.NoError(t, err)
		assert.Equal(t, types.OCILayerZStd, lmt)
	}
}

func TestIndexReproducible(t *testing.T) {
	build := func(revision string) v1.Hash {
		m := testMeta()
		m.Revision = revision
		var imgs []PlatformImage
		for _, p := range Platforms {
			img, err := Image(m, p, []byte("ELF-"+p.Architecture), []byte(testPEM))
			require.NoError(t, err)
			imgs = append(imgs, PlatformImage{Platform: p, Image: img})
		}
		idx, err := Index(m, imgs)
		require.NoError(t, err)
		d, err := idx.Digest()
		require.NoError(t, err)

		im, err := idx.IndexManifest()
		require.NoError(t, err)
		require.Len(t, im.Manifests, 2)
		assert.Equal(t, "amd64", im.Manifests[0].Platform.Architecture)
		assert.Equal(t, "arm64", im.Manifests[1].Platform.Architecture)
		assert.Equal(t, revision, im.Annotations[LabelRevision])
		return d
	}
	assert.Equal(t, build("abc"), build("abc"), "same inputs, same digest")
	assert.NotEqual(t, build("abc"), build("def"), "the revision is part of the image")
}

func TestSourceDate(t *testing.T) {
	dir := t.TempDir() // not a git checkout
	tests := []struct {
		name, env string
		want      time.Time
		wantErr   bool
	}{
		{"SOURCE_DATE_EPOCH honoured", "1700000000", time.Unix(1700000000, 0).UTC(), false},
		{"no git, no env: epoch", "", time.Unix(0, 0).UTC(), false},
		{"not a number", "yesterday", time.Time{}, true},
		{"negative", "-5", time.Time{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("SOURCE_DATE_EPOCH", tt.env)
			got, err := SourceDate(context.Background(), dir)
			if tt.wantErr {
				assert.ErrorContains(t, err, "SOURCE_DATE_EPOCH")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
	assert.Empty(t, GitRevision(context.Background(), dir))
}

func TestReadCACerts(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "ca.crt")
	bad := filepath.Join(dir, "bad.crt")
	require.NoError(t, os.WriteFile(good, []byte(testPEM), 0o600))
	require.NoError(t, os.WriteFile(bad, []byte("nope"), 0o600))

	got, err := ReadCACerts(good)
	require.NoError(t, err)
	assert.Equal(t, testPEM, string(got))

	_, err = ReadCACerts(filepath.Join(dir, "missing.crt"))
	assert.ErrorContains(t, err, "not found: install ca-certificates or pass --ca-certs")
	_, err = ReadCACerts(bad)
	assert.ErrorContains(t, err, "no PEM certificate")
}

func TestLayoutRoundTrip(t *testing.T) {
	m := testMeta()
	img, err := Image(m, Platforms[0], []byte("ELF"), []byte(testPEM))
	require.NoError(t, err)
	idx, err := Index(m, []PlatformImage{{Platform: Platforms[0], Image: img}})
	require.NoError(t, err)
	want, err := idx.Digest()
	require.NoError(t, err)

	dir := filepath.Join(t.TempDir(), "check-image")
	require.NoError(t, WriteLayout(dir, idx, "r.example/check-image:0.1.0"))
	require.NoError(t, WriteLayout(dir, idx, "r.example/check-image:0.1.0"), "rewriting replaces")
	got, err := LayoutDigest(dir)
	require.NoError(t, err)
	assert.Equal(t, want, got)

	sizes, err := Sizes(idx)
	require.NoError(t, err)
	require.Len(t, sizes, 1)
	assert.Positive(t, sizes[0].Compressed)
}

func TestStepsAndModuleRoot(t *testing.T) {
	root, err := ModuleRoot(".")
	require.NoError(t, err)
	steps, err := Steps(root)
	require.NoError(t, err)
	assert.Contains(t, steps, "check-image")
	assert.IsIncreasing(t, steps)

	_, err = (&Builder{RepoRoot: root}).Build(context.Background(), "no-such-step")
	assert.ErrorContains(t, err, "no steps/no-such-step/main.go")
}
