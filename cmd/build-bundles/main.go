// Command build-bundles packs the Tasks, StepActions and Pipelines into Tekton bundles (see
// package bundle) and pushes each as <registry>/<task-|pipeline-|stepaction-><name>:<version>.
//
//	go run ./cmd/build-bundles --registry quay.io/release-to-prod [--pin-images]
//
// With --pin-images, every image quay.io/release-to-prod/<step>:<tag> in the YAML is replaced by
// <images-registry>/<step>:<tag>@<digest>, the digest read from the registry (one HEAD per step)
// or, with --images-layout, from the OCI layouts `make images` wrote.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/release-to-prod/release-to-prod/pkg/build/bundle"
	"github.com/release-to-prod/release-to-prod/pkg/build/imagebuild"
)

func main() { imagebuild.Command("build-bundles", run) }

// options are build-bundles' flags.
type options struct {
	registry, imagesRegistry, imagesLayout, source string
	pin, insecure, dryRun                          bool
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("build-bundles", flag.ContinueOnError)
	var o options
	fs.StringVar(&o.registry, "registry", "", "push bundles under this registry/namespace (required), e.g. quay.io/release-to-prod")
	fs.BoolVar(&o.pin, "pin-images", false, "replace "+bundle.ImagePrefix+"<step>:<tag> images with <images-registry>/<step>:<tag>@<digest>")
	fs.StringVar(&o.imagesRegistry, "images-registry", "", "where the step images were pushed (default: --registry)")
	fs.StringVar(&o.imagesLayout, "images-layout", "", "read step image digests from these OCI layouts (e.g. out/images) instead of the registry")
	fs.StringVar(&o.source, "source", imagebuild.DefaultSource, "org.opencontainers.image.source label")
	fs.BoolVar(&o.insecure, "insecure", false, "talk plain HTTP to the registry")
	fs.BoolVar(&o.dryRun, "dry-run", false, "build and print the bundles, push nothing")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if o.registry == "" {
		return fmt.Errorf("--registry is required (e.g. --registry quay.io/release-to-prod)")
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if o.imagesRegistry == "" {
		o.imagesRegistry = o.registry
	}
	root, err := imagebuild.ModuleRoot(".")
	if err != nil {
		return err
	}
	bundles, err := o.plan(ctx, root)
	if err != nil {
		return err
	}
	created, err := imagebuild.SourceDate(ctx, root)
	if err != nil {
		return err
	}
	labels := map[string]string{imagebuild.LabelSource: o.source}
	if rev := imagebuild.GitRevision(ctx, root); rev != "" {
		labels[imagebuild.LabelRevision] = rev
	}
	for _, b := range bundles {
		if err := o.push(ctx, b, created, labels, stdout); err != nil {
			return err
		}
	}
	return nil
}

// plan loads the Tekton files under root, pins their step images when asked, and groups them
// into bundles.
func (o options) plan(ctx context.Context, root string) ([]*bundle.Bundle, error) {
	resources, err := bundle.Load(root)
	if err != nil {
		return nil, err
	}
	if o.pin {
		var nameOpts []name.Option // for the step images' digests
		if o.insecure {
			nameOpts = append(nameOpts, name.Insecure)
		}
		var digests bundle.Digests = bundle.RegistryDigests{Registry: o.imagesRegistry, Options: nameOpts}
		if o.imagesLayout != "" {
			digests = bundle.LayoutDigests{Dir: o.imagesLayout}
		}
		for _, r := range resources {
			if _, err := r.Pin(ctx, o.imagesRegistry, digests); err != nil {
				return nil, err
			}
		}
	}
	return bundle.Plan(resources)
}

// push builds b's image and pushes it (not in a dry run), then prints its line.
func (o options) push(ctx context.Context, b *bundle.Bundle, created time.Time, labels map[string]string, stdout io.Writer) error {
	img, err := bundle.Image(b.Resources, created, labels)
	if err != nil {
		return fmt.Errorf("bundle %s: %w", b.Repository, err)
	}
	digest, err := img.Digest()
	if err != nil {
		return fmt.Errorf("bundle %s: %w", b.Repository, err)
	}
	ref, err := imagebuild.Tag(o.registry, b.Repository, b.Tag, o.insecure)
	if err != nil {
		return fmt.Errorf("bundle %s: reference: %w", b.Repository, err)
	}
	if !o.dryRun {
		if err := remote.Write(ref, img, remote.WithContext(ctx), remote.WithAuthFromKeychain(authn.DefaultKeychain)); err != nil {
			return fmt.Errorf("push %s: %w", ref, err)
		}
	}
	fmt.Fprintf(stdout, "✓ %s %s (%s) → %s\n", b.Repository, digest, strings.Join(b.IDs(), ", "), ref)
	return nil
}
