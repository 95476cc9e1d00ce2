package cluster

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/release-to-prod/release-to-prod/pkg/build/imagebuild"
)

// hostCACerts is the CA bundle laid into every image (pkg/build/imagebuild requires one).
const hostCACerts = "/etc/ssl/certs/ca-certificates.crt"

// imageEpoch stamps the system images: the same binaries give the same digests.
var imageEpoch = time.Unix(0, 0).UTC()

// BinaryImage is a single-platform image (the node's) of one static binary, laid out like the
// project's step images by pkg/build/imagebuild: /usr/local/bin/<name> as entrypoint, user
// 65532:65532, CA certificates.
func BinaryImage(name string, binary []byte) (v1.Image, error) {
	certs, err := imagebuild.ReadCACerts(hostCACerts)
	if err != nil {
		return nil, err
	}
	img, err := imagebuild.Image(imagebuild.Metadata{Step: name, Version: "test", Created: imageEpoch,
		Description: "release-to-prod test cluster: " + name},
		v1.Platform{OS: "linux", Architecture: runtime.GOARCH}, binary, certs)
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", name, err)
	}
	return img, nil
}

// koImage adds /ko-app/<name> to a BinaryImage: Tekton's controller runs its images' binaries
// at the paths ko gives them (/ko-app/entrypoint init /ko-app/entrypoint …, /ko-app/workingdirinit).
func koImage(name string, binary []byte) (v1.Image, error) {
	img, err := BinaryImage(name, binary)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, h := range []*tar.Header{
		{Name: "ko-app/", Typeflag: tar.TypeDir, Mode: 0o755},
		{Name: "ko-app/" + name, Typeflag: tar.TypeSymlink, Linkname: imagebuild.BinDir + "/" + name, Mode: 0o777},
	} {
		h.ModTime, h.Format = imageEpoch, tar.FormatPAX
		if err := tw.WriteHeader(h); err != nil {
			return nil, fmt.Errorf("image %s: %w", name, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("image %s: %w", name, err)
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(buf.Bytes())), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", name, err)
	}
	img, err = mutate.Append(img, mutate.Addendum{Layer: layer, History: v1.History{
		Created: v1.Time{Time: imageEpoch}, CreatedBy: "release-to-prod test cluster: /ko-app/" + name}})
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", name, err)
	}
	return img, nil
}

// Tekton's images, by the names its controller's flags use.
const (
	tektonEntrypoint        = "entrypoint"
	tektonNop               = "nop"
	tektonWorkingDirInit    = "workingdirinit"
	tektonSidecarLogResults = "sidecarlogresults"
)

// pushSystemImages builds and pushes the pod sandbox (pause) image and Tekton's images; no image
// can be pulled from outside.
func (c *Cluster) pushSystemImages(ctx context.Context, bins binaries) error {
	pause, err := os.ReadFile(bins["pause"])
	if err != nil {
		return fmt.Errorf("pause: %w", err)
	}
	img, err := BinaryImage("pause", pause)
	if err != nil {
		return err
	}
	if _, err := c.Registry.PushImage(ctx, "pause", "test", img); err != nil {
		return err
	}
	for name, tool := range map[string]string{
		tektonEntrypoint:        "tekton-entrypoint",
		tektonNop:               "tekton-nop",
		tektonWorkingDirInit:    "tekton-workingdirinit",
		tektonSidecarLogResults: "tekton-sidecarlogresults",
	} {
		b, err := os.ReadFile(bins[tool])
		if err != nil {
			return fmt.Errorf("%s: %w", tool, err)
		}
		img, err := koImage(name, b)
		if err != nil {
			return err
		}
		ref, err := c.Registry.PushImage(ctx, "tekton/"+name, "test", img)
		if err != nil {
			return err
		}
		c.TektonRef[name] = ref
	}
	return nil
}

// PushStepImages builds every step's image for the node's platform from the checkout at root
// and pushes it as release-to-prod/<step>:0.1.0, which the node pulls as
// quay.io/release-to-prod/<step>:0.1.0 (Options.Mirrors). The images trust the cluster's CA
// besides the host's, as an organisation's images trust its private CA: the stand-ins the
// steps call are served over HTTPS with certificates from it (ServeTLS).
func (c *Cluster) PushStepImages(ctx context.Context, root string) error {
	steps, err := imagebuild.Steps(root)
	if err != nil {
		return fmt.Errorf("step images: %w", err)
	}
	certs, err := c.TrustedCAs()
	if err != nil {
		return fmt.Errorf("step images: %w", err)
	}
	b := &imagebuild.Builder{RepoRoot: root, CACerts: certs, Platforms: []v1.Platform{{OS: "linux", Architecture: runtime.GOARCH}},
		Meta: imagebuild.Metadata{Version: "0.1.0", Created: imageEpoch}}
	for _, s := range steps {
		built, err := b.Build(ctx, s)
		if err != nil {
			return fmt.Errorf("step image %s: %w", s, err)
		}
		if _, err := c.Registry.PushIndex(ctx, "release-to-prod/"+s, "0.1.0", built.Index); err != nil {
			return fmt.Errorf("step image %s: %w", s, err)
		}
	}
	return nil
}
