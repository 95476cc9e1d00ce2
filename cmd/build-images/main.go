// Command build-images builds every step's multi-platform image without a container engine (see
// package imagebuild), writes each as an OCI layout under --out and, with --registry, pushes it
// as <registry>/<step>:<version>.
//
//	go run ./cmd/build-images [--registry quay.io/release-to-prod] [--out out/images] [step...]
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/release-to-prod/release-to-prod/pkg/build/imagebuild"
)

func main() { imagebuild.Command("build-images", run) }

// options are build-images' flags.
type options struct {
	registry, out, version, source, caCerts string
	insecure                                bool
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("build-images", flag.ContinueOnError)
	var o options
	fs.StringVar(&o.registry, "registry", "", "push each image as REGISTRY/<step>:<version> (e.g. quay.io/release-to-prod); empty: no push")
	fs.StringVar(&o.out, "out", "out/images", "write an OCI layout per step under this folder; empty: none")
	fs.StringVar(&o.version, "version", "0.1.0", "image tag and org.opencontainers.image.version")
	fs.StringVar(&o.source, "source", imagebuild.DefaultSource, "org.opencontainers.image.source")
	fs.StringVar(&o.caCerts, "ca-certs", "/etc/ssl/certs/ca-certificates.crt", "CA bundle copied into the images")
	fs.BoolVar(&o.insecure, "insecure", false, "talk plain HTTP to the registry")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: build-images [flags] [step...]   (default: every folder of steps/)")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if o.registry == "" && o.out == "" {
		return fmt.Errorf("nothing to do: give --registry and/or --out")
	}
	root, err := imagebuild.ModuleRoot(".")
	if err != nil {
		return err
	}
	steps := fs.Args()
	if len(steps) == 0 {
		if steps, err = imagebuild.Steps(root); err != nil {
			return err
		}
	}
	b, err := o.builder(ctx, root)
	if err != nil {
		return err
	}
	for _, step := range steps {
		if err := o.build(ctx, b, step, stdout); err != nil {
			return err
		}
	}
	return nil
}

// builder is the image builder of the module at root, with the CA bundle and the metadata.
func (o options) builder(ctx context.Context, root string) (*imagebuild.Builder, error) {
	certs, err := imagebuild.ReadCACerts(o.caCerts)
	if err != nil {
		return nil, err
	}
	created, err := imagebuild.SourceDate(ctx, root)
	if err != nil {
		return nil, err
	}
	return &imagebuild.Builder{
		RepoRoot: root,
		CACerts:  certs,
		Meta: imagebuild.Metadata{
			Version:  o.version,
			Source:   o.source,
			Revision: imagebuild.GitRevision(ctx, root),
			Created:  created,
		},
	}, nil
}

// build builds step's image, pushes it and writes its layout as the flags say, and prints its line.
func (o options) build(ctx context.Context, b *imagebuild.Builder, step string, stdout io.Writer) error {
	built, err := b.Build(ctx, step)
	if err != nil {
		return err
	}
	digest, err := built.Index.Digest()
	if err != nil {
		return fmt.Errorf("step %s: %w", step, err)
	}
	refName := ""
	if o.registry != "" {
		ref, err := imagebuild.Tag(o.registry, step, o.version, o.insecure)
		if err != nil {
			return fmt.Errorf("step %s: image reference: %w", step, err)
		}
		if err := imagebuild.Push(ctx, ref, built.Index); err != nil {
			return err
		}
		refName = ref.String()
	}
	if o.out != "" {
		if err := imagebuild.WriteLayout(filepath.Join(o.out, step), built.Index, refName); err != nil {
			return err
		}
	}
	fmt.Fprintln(stdout, Line(built.Step, digest.String(), built.Sizes, refName))
	return nil
}

// Line is the one line printed per image: name, index digest, compressed size per platform and
// where it was pushed.
func Line(step, digest string, sizes []imagebuild.PlatformSize, pushed string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "✓ %s %s", step, digest)
	for _, s := range sizes {
		fmt.Fprintf(&b, " %s/%s=%s", s.Platform.OS, s.Platform.Architecture, MiB(s.Compressed))
	}
	if pushed != "" {
		fmt.Fprintf(&b, " → %s", pushed)
	}
	return b.String()
}

// MiB formats a byte count as mebibytes with two decimals.
func MiB(n int64) string { return fmt.Sprintf("%.2fMiB", float64(n)/(1<<20)) }
