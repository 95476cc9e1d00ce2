package bundle

import (
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/release-to-prod/release-to-prod/pkg/build/imagebuild"
)

// ImagePrefix is where the YAML says the step images live: quay.io/release-to-prod/<step>:<tag>.
const ImagePrefix = "quay.io/release-to-prod/"

// imageLine matches an `image:` field naming a step image under ImagePrefix, quoted or not.
var imageLine = regexp.MustCompile(`(?m)^(\s*(?:-\s*)?image:\s*["']?)` + regexp.QuoteMeta(ImagePrefix) +
	`([a-z0-9][a-z0-9-]*):([A-Za-z0-9_][A-Za-z0-9_.-]{0,127})(["']?\s*(?:#.*)?)$`)

// Digests tells the digest of a step image, by step name and tag.
type Digests interface {
	Digest(ctx context.Context, step, tag string) (v1.Hash, error)
}

// PinImages rewrites every `image: quay.io/release-to-prod/<step>:<tag>` line of a resource's
// YAML to `image: <registry>/<step>:<tag>@<digest>`. Only image fields change, so the YAML keeps
// its comments and order. A step image whose digest is unknown is an error: a bundle built with
// --pin-images must not carry a floating tag.
func PinImages(ctx context.Context, data []byte, registry string, digests Digests) ([]byte, []string, error) {
	registry = strings.TrimSuffix(registry, "/")
	var pinned []string
	var firstErr error
	out := imageLine.ReplaceAllFunc(data, func(line []byte) []byte {
		m := imageLine.FindSubmatch(line)
		step, tag := string(m[2]), string(m[3])
		d, err := digests.Digest(ctx, step, tag)
		if err != nil {
			if firstErr == nil {
				firstErr = fmt.Errorf("pin image %s%s:%s: %w", ImagePrefix, step, tag, err)
			}
			return line
		}
		ref := registry + "/" + step + ":" + tag + "@" + d.String()
		if _, err := name.NewDigest(ref); err != nil && firstErr == nil {
			firstErr = fmt.Errorf("pin image %s%s:%s: %w", ImagePrefix, step, tag, err)
		}
		pinned = append(pinned, ref)
		return append(append(append([]byte{}, m[1]...), ref...), m[4]...)
	})
	if firstErr != nil {
		return nil, nil, firstErr
	}
	return out, pinned, nil
}

// RegistryDigests reads step image digests from <Registry>/<step>:<tag> with one HEAD each.
type RegistryDigests struct {
	Registry string
	Options  []name.Option
	Remote   []remote.Option
}

// Digest implements Digests.
func (r RegistryDigests) Digest(ctx context.Context, step, tag string) (v1.Hash, error) {
	ref, err := name.NewTag(strings.TrimSuffix(r.Registry, "/")+"/"+step+":"+tag, r.Options...)
	if err != nil {
		return v1.Hash{}, fmt.Errorf("image reference: %w", err)
	}
	opts := append([]remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(authn.DefaultKeychain)}, r.Remote...)
	desc, err := remote.Head(ref, opts...)
	if err != nil {
		return v1.Hash{}, fmt.Errorf("%s (push it first: make images REGISTRY=%s): %w", ref, r.Registry, err)
	}
	return desc.Digest, nil
}

// LayoutDigests reads step image digests from the OCI layouts `make images` wrote under Dir.
// The tag is not checked: a layout holds one build of each step.
type LayoutDigests struct{ Dir string }

// Digest implements Digests.
func (l LayoutDigests) Digest(_ context.Context, step, _ string) (v1.Hash, error) {
	d, err := imagebuild.LayoutDigest(filepath.Join(l.Dir, step))
	if err != nil {
		return v1.Hash{}, fmt.Errorf("%w (build it first: make images)", err)
	}
	return d, nil
}

// Pin pins the resource's step images (see PinImages) and decodes the result again, so what goes
// into the bundle is still a valid resource.
func (r *Resource) Pin(ctx context.Context, registry string, digests Digests) ([]string, error) {
	data, pinned, err := PinImages(ctx, r.Data, registry, digests)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", r.Path, err)
	}
	again, err := Decode(r.Path, data)
	if err != nil {
		return nil, err
	}
	r.Data, r.Object = again.Data, again.Object
	return pinned, nil
}

// ImageRef is a step image named in a resource's YAML.
type ImageRef struct{ Step, Tag string }

// StepImages lists the step images a resource's `image:` fields name under ImagePrefix.
func StepImages(data []byte) []ImageRef {
	var refs []ImageRef
	for _, m := range imageLine.FindAllSubmatch(data, -1) {
		refs = append(refs, ImageRef{Step: string(m[2]), Tag: string(m[3])})
	}
	return refs
}
