// Package imagebuild assembles the step images without a container engine: each step's static
// binary is cross-compiled per platform and laid over a base layer (CA certificates, a non-root
// user) into a two-layer OCI image; the platforms are joined in one OCI index. The base layer is
// byte for byte the same in every step's image and on every platform, so a node pulls and unpacks
// it once for all the steps. Layers are zstd-compressed at the highest level: the binaries are
// most of what a cold node pulls, and zstd makes them about a fifth smaller than gzip and
// unpacks faster. Everything that could vary between two builds of the same commit
// (timestamps, tar order, host users) is fixed, so the same commit gives the same digests on any
// machine with the same Go toolchain and module versions.
package imagebuild

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"sort"
	"time"

	"github.com/google/go-containerregistry/pkg/compression"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Paths and identity inside every step image. 65532 is distroless's "nonroot", which the
// StepActions' securityContext (runAsUser: 65532) expects.
const (
	BinDir     = "/usr/local/bin"
	CACertPath = "/etc/ssl/certs/ca-certificates.crt"
	NonRootUID = 65532
	User       = "65532:65532"
)

// OCI annotation / label keys written on every image.
const (
	LabelSource      = "org.opencontainers.image.source"
	LabelRevision    = "org.opencontainers.image.revision"
	LabelDescription = "org.opencontainers.image.description"
	LabelVersion     = "org.opencontainers.image.version"
	LabelTitle       = "org.opencontainers.image.title"
	LabelCreated     = "org.opencontainers.image.created"
)

// Platforms are the platforms every step image is built for (the Tasks' tekton.dev/platforms).
var Platforms = []v1.Platform{
	{OS: "linux", Architecture: "amd64"},
	{OS: "linux", Architecture: "arm64"},
}

// Metadata describes an image build; it is the same for every platform of a step.
type Metadata struct {
	Step        string    // step name, e.g. check-image; the binary is /usr/local/bin/<Step>
	Version     string    // image version label, e.g. 0.1.0
	Source      string    // repository URL for org.opencontainers.image.source
	Revision    string    // git commit; empty leaves the label out
	Description string    // one line; defaults to "release-to-prod step <Step>"
	Created     time.Time // every timestamp in the image (SOURCE_DATE_EPOCH)
}

func (m Metadata) labels() map[string]string {
	desc := m.Description
	if desc == "" {
		desc = "release-to-prod step " + m.Step
	}
	l := map[string]string{
		LabelSource:      m.Source,
		LabelDescription: desc,
		LabelVersion:     m.Version,
		LabelTitle:       m.Step,
		LabelCreated:     m.Created.UTC().Format(time.RFC3339),
	}
	if m.Revision != "" {
		l[LabelRevision] = m.Revision
	}
	for k, v := range l {
		if v == "" {
			delete(l, k)
		}
	}
	return l
}

// passwd and group give the non-root user a name: some libraries (os/user, ssh) look it up.
const (
	passwd = "root:x:0:0:root:/root:/sbin/nologin\n" +
		"nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n"
	group = "root:x:0:\nnonroot:x:65532:\n"
)

// file is one tar entry of a layer.
type file struct {
	name string // without leading slash
	mode int64
	uid  int
	dir  bool
	data []byte
}

// BaseFS returns the uncompressed tar of the base layer every image shares: the CA bundle,
// /etc/passwd and /etc/group, the non-root user's home, /tmp and the binaries' folder. Nothing
// in it depends on the step or the platform.
func BaseFS(caCerts []byte, mtime time.Time) ([]byte, error) {
	if len(caCerts) == 0 {
		return nil, errors.New("empty CA certificate bundle")
	}
	return tarFiles([]file{
		{name: "etc", mode: 0o755, dir: true},
		{name: "etc/group", mode: 0o644, data: []byte(group)},
		{name: "etc/passwd", mode: 0o644, data: []byte(passwd)},
		{name: "etc/ssl", mode: 0o755, dir: true},
		{name: "etc/ssl/certs", mode: 0o755, dir: true},
		{name: CACertPath[1:], mode: 0o644, data: caCerts},
		{name: "home", mode: 0o755, dir: true},
		{name: "home/nonroot", mode: 0o700, uid: NonRootUID, dir: true},
		// Go's os.TempDir; the pod mounts an emptyDir here when the root is read-only.
		{name: "tmp", mode: 0o1777, dir: true},
		{name: "usr", mode: 0o755, dir: true},
		{name: "usr/local", mode: 0o755, dir: true},
		{name: BinDir[1:], mode: 0o755, dir: true},
	}, mtime)
}

// BinaryFS returns the uncompressed tar of a step's own layer: its binary alone, in the folder
// the base layer makes.
func BinaryFS(step string, binary []byte, mtime time.Time) ([]byte, error) {
	if step == "" || path.Base(step) != step {
		return nil, fmt.Errorf("invalid step name %q", step)
	}
	if len(binary) == 0 {
		return nil, fmt.Errorf("step %s: empty binary", step)
	}
	return tarFiles([]file{{name: BinDir[1:] + "/" + step, mode: 0o755, data: binary}}, mtime)
}

// tarFiles writes files sorted, owned by root (except where uid says otherwise) and stamped with
// mtime.
func tarFiles(files []file, mtime time.Time) ([]byte, error) {
	sort.Slice(files, func(i, j int) bool { return files[i].name < files[j].name })
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	mtime = mtime.UTC().Truncate(time.Second)
	for _, f := range files {
		h := &tar.Header{
			Name:    f.name,
			Mode:    f.mode,
			Uid:     f.uid,
			Gid:     f.uid,
			ModTime: mtime,
			Format:  tar.FormatPAX,
		}
		if f.dir {
			h.Typeflag = tar.TypeDir
			h.Name += "/"
		} else {
			h.Typeflag = tar.TypeReg
			h.Size = int64(len(f.data))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, fmt.Errorf("tar header %s: %w", f.name, err)
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, fmt.Errorf("tar %s: %w", f.name, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("tar: %w", err)
	}
	return buf.Bytes(), nil
}

// LayerZstdLevel is the zstd level of every layer: go-containerregistry maps 10 and above to the
// encoder's best compression (a 12 MB binary: 4.20 MB against gzip's 5.20 MB at the level
// go-containerregistry uses by default).
const LayerZstdLevel = 19

// Layer compresses an uncompressed tar into an OCI zstd layer.
func Layer(tarFile []byte) (v1.Layer, error) {
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(tarFile)), nil
	}, tarball.WithCompression(compression.ZStd), tarball.WithCompressionLevel(LayerZstdLevel),
		tarball.WithMediaType(types.OCILayerZStd), tarball.WithCompressedCaching)
}

// Image assembles the image of one step for one platform from its static binary.
func Image(m Metadata, p v1.Platform, binary, caCerts []byte) (v1.Image, error) {
	own, err := BinaryFS(m.Step, binary, m.Created)
	if err != nil {
		return nil, err
	}
	base, err := BaseFS(caCerts, m.Created)
	if err != nil {
		return nil, err
	}
	baseLayer, err := Layer(base)
	if err != nil {
		return nil, fmt.Errorf("step %s base layer: %w", m.Step, err)
	}
	ownLayer, err := Layer(own)
	if err != nil {
		return nil, fmt.Errorf("step %s layer: %w", m.Step, err)
	}

	created := v1.Time{Time: m.Created.UTC().Truncate(time.Second)}
	entrypoint := BinDir + "/" + m.Step
	img := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	img, err = mutate.ConfigFile(img, &v1.ConfigFile{
		Created:      created,
		OS:           p.OS,
		Architecture: p.Architecture,
		Variant:      p.Variant,
		Config: v1.Config{
			User:       User,
			Entrypoint: []string{entrypoint},
			Env: []string{
				"PATH=" + BinDir + ":/usr/bin:/bin",
				"SSL_CERT_FILE=" + CACertPath,
			},
			WorkingDir: "/",
			Labels:     m.labels(),
		},
	})
	if err != nil {
		return nil, fmt.Errorf("step %s config: %w", m.Step, err)
	}
	img, err = mutate.Append(img, mutate.Addendum{
		Layer: baseLayer,
		History: v1.History{
			Created:   created,
			CreatedBy: "imagebuild: base (CA certificates, nonroot user), the same in every step's image",
			Comment:   "release-to-prod build-images",
		},
	}, mutate.Addendum{
		Layer: ownLayer,
		History: v1.History{
			Created:   created,
			CreatedBy: "imagebuild: " + entrypoint,
			Comment:   "release-to-prod build-images",
		},
	})
	if err != nil {
		return nil, fmt.Errorf("step %s: %w", m.Step, err)
	}
	return img, nil
}

// PlatformImage is one platform's image of a step.
type PlatformImage struct {
	Platform v1.Platform
	Image    v1.Image
}

// Index joins the platform images of a step in one OCI index annotated like its images.
func Index(m Metadata, images []PlatformImage) (v1.ImageIndex, error) {
	if len(images) == 0 {
		return nil, fmt.Errorf("step %s: no platform images", m.Step)
	}
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, pi := range images {
		p := pi.Platform
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{
			Add:        pi.Image,
			Descriptor: v1.Descriptor{Platform: &p},
		})
	}
	annotated, ok := mutate.Annotations(idx, m.labels()).(v1.ImageIndex)
	if !ok {
		return nil, errors.New("annotating the index lost its type")
	}
	return annotated, nil
}

// ReadCACerts reads the CA bundle that goes into every image. A missing bundle is an error, not
// an image without certificates: every step talks TLS.
func ReadCACerts(file string) ([]byte, error) {
	b, err := os.ReadFile(file)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("CA certificate bundle %s not found: install ca-certificates or pass --ca-certs FILE", file)
	}
	if err != nil {
		return nil, fmt.Errorf("read CA certificate bundle: %w", err)
	}
	if !bytes.Contains(b, []byte("-----BEGIN CERTIFICATE-----")) {
		return nil, fmt.Errorf("CA certificate bundle %s holds no PEM certificate", file)
	}
	return b, nil
}
