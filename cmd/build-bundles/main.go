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

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/release-to-prod/release-to-prod/pkg/build/bundle"
	"github.com/release-to-prod/release-to-prod/pkg/build/imagebuild"
)

func main() { imagebuild.Command("build-bundles", run) }

func run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("build-bundles", flag.ContinueOnError)
	registry := fs.String("registry", "", "push bundles under this registry/namespace (required), e.g. quay.io/release-to-prod")
	pin := fs.Bool("pin-images", false, "replace "+bundle.ImagePrefix+"<step>:<tag> images with <images-registry>/<step>:<tag>@<digest>")
	imagesRegistry := fs.String("images-registry", "", "where the step images were pushed (default: --registry)")
	imagesLayout := fs.String("images-layout", "", "read step image digests from these OCI layouts (e.g. out/images) instead of the registry")
	source := fs.String("source", imagebuild.DefaultSource, "org.opencontainers.image.source label")
	insecure := fs.Bool("insecure", false, "talk plain HTTP to the registry")
	dryRun := fs.Bool("dry-run", false, "build and print the bundles, push nothing")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *registry == "" {
		return fmt.Errorf("--registry is required (e.g. --registry quay.io/release-to-prod)")
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *imagesRegistry == "" {
		*imagesRegistry = *registry
	}
	var nameOpts []name.Option // for the step images' digests
	if *insecure {
		nameOpts = append(nameOpts, name.Insecure)
	}

	root, err := imagebuild.ModuleRoot(".")
	if err != nil {
		return err
	}
	resources, err := bundle.Load(root)
	if err != nil {
		return err
	}
	if *pin {
		var digests bundle.Digests = bundle.RegistryDigests{Registry: *imagesRegistry, Options: nameOpts}
		if *imagesLayout != "" {
			digests = bundle.LayoutDigests{Dir: *imagesLayout}
		}
		for _, r := range resources {
			if _, err := r.Pin(ctx, *imagesRegistry, digests); err != nil {
				return err
			}
		}
	}
	bundles, err := bundle.Plan(resources)
	if err != nil {
		return err
	}
	created, err := imagebuild.SourceDate(ctx, root)
	if err != nil {
		return err
	}
	labels := map[string]string{imagebuild.LabelSource: *source}
	if rev := imagebuild.GitRevision(ctx, root); rev != "" {
		labels[imagebuild.LabelRevision] = rev
	}
	for _, b := range bundles {
		img, err := bundle.Image(b.Resources, created, labels)
		if err != nil {
			return fmt.Errorf("bundle %s: %w", b.Repository, err)
		}
		digest, err := img.Digest()
		if err != nil {
			return fmt.Errorf("bundle %s: %w", b.Repository, err)
		}
		ref, err := imagebuild.Tag(*registry, b.Repository, b.Tag, *insecure)
		if err != nil {
			return fmt.Errorf("bundle %s: reference: %w", b.Repository, err)
		}
		if !*dryRun {
			if err := remote.Write(ref, img, remote.WithContext(ctx), remote.WithAuthFromKeychain(authn.DefaultKeychain)); err != nil {
				return fmt.Errorf("push %s: %w", ref, err)
			}
		}
		fmt.Fprintf(stdout, "✓ %s %s (%s) → %s\n", b.Repository, digest, strings.Join(b.IDs(), ", "), ref)
	}
	return nil
}
