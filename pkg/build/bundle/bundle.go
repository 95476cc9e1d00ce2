// Package bundle packs the project's Tekton resources (Tasks, StepActions, the Pipeline) into
// Tekton bundles: OCI images with one layer per resource, each layer a tar holding the resource's
// YAML, annotated with its name, lower-case kind and API version, which is the format
// tektoncd/pipeline's bundles resolver (pkg/resolution/resolver/bundle) reads.
//
// One bundle per Task holds the Task and the StepActions its steps reference. One bundle per
// Pipeline holds the Pipeline, the Tasks it references by name and every StepAction the steps of
// its inline taskSpecs and of those Tasks reference: each bundle carries everything it names.
// A StepAction nothing references gets a bundle of its own. Bundles are tagged with the catalog
// version folder (tasks/<name>/<version>/).
package bundle

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	pipelinev1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	"github.com/tektoncd/pipeline/pkg/client/clientset/versioned/scheme"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
)

// Layer annotations of a Tekton bundle (tektoncd/pipeline pkg/remote/oci).
const (
	AnnotationName       = "dev.tekton.image.name"
	AnnotationKind       = "dev.tekton.image.kind"
	AnnotationAPIVersion = "dev.tekton.image.apiVersion"
)

// MaxObjects is the most resources Tekton accepts in one bundle.
const MaxObjects = 20

// Resource is one Tekton object as it goes into a bundle layer.
type Resource struct {
	Path       string // where it was read from, for messages
	Group      string // tekton.dev
	Version    string // v1, v1beta1: the bundle's apiVersion annotation, as tkn writes it
	Kind       string // Task, StepAction, Pipeline
	Name       string
	Data       []byte // the YAML, as read or with its images pinned
	Object     runtime.Object
	StepRefs   []string // StepActions referenced by name from a Task's steps or a Pipeline's taskSpecs
	PipeTasks  []string // names of the Tasks a Pipeline references by name
	VersionDir string   // the catalog version folder, e.g. 0.1
}

// Decode reads a Tekton resource with Tekton's own deserializer: what decodes here, the bundles
// resolver can hand to the controller.
func Decode(path string, data []byte) (*Resource, error) {
	obj, gvk, err := scheme.Codecs.UniversalDeserializer().Decode(data, nil, nil)
	if err != nil {
		return nil, fmt.Errorf("%s: not a Tekton resource: %w", path, err)
	}
	if gvk.Group != "tekton.dev" {
		return nil, fmt.Errorf("%s: %s is not a Tekton kind", path, gvk)
	}
	m, err := meta.Accessor(obj)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if m.GetName() == "" {
		return nil, fmt.Errorf("%s: %s has no metadata.name", path, gvk.Kind)
	}
	r := &Resource{Path: path, Group: gvk.Group, Version: gvk.Version, Kind: gvk.Kind, Name: m.GetName(), Data: data, Object: obj}
	switch o := obj.(type) {
	case *pipelinev1.Task:
		r.addStepRefs(o.Spec.Steps)
	case *pipelinev1.Pipeline:
		for _, list := range [][]pipelinev1.PipelineTask{o.Spec.Tasks, o.Spec.Finally} {
			for _, pt := range list {
				if pt.TaskRef != nil && pt.TaskRef.Name != "" && pt.TaskRef.Resolver == "" {
					r.PipeTasks = appendOnce(r.PipeTasks, pt.TaskRef.Name)
				}
				if pt.TaskSpec != nil {
					r.addStepRefs(pt.TaskSpec.Steps)
				}
			}
		}
	}
	return r, nil
}

// addStepRefs records the StepActions that steps reference by name (a local ref, which the
// bundle must carry), not those fetched by a resolver.
func (r *Resource) addStepRefs(steps []pipelinev1.Step) {
	for _, s := range steps {
		if s.Ref != nil && s.Ref.Name != "" && s.Ref.Resolver == "" {
			r.StepRefs = appendOnce(r.StepRefs, s.Ref.Name)
		}
	}
}

func appendOnce(list []string, s string) []string {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}

// ID is kind/name as the bundle annotations spell it: task/check-image.
func (r *Resource) ID() string { return strings.ToLower(r.Kind) + "/" + r.Name }

// Layer is the resource as a bundle layer: a tar of one file named after the resource.
func (r *Resource) Layer(mtime time.Time) (mutate.Addendum, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.WriteHeader(&tar.Header{
		Name:     r.Name + ".yaml",
		Mode:     0o644,
		Size:     int64(len(r.Data)),
		Typeflag: tar.TypeReg,
		ModTime:  mtime.UTC().Truncate(time.Second),
		Format:   tar.FormatPAX,
	}); err != nil {
		return mutate.Addendum{}, fmt.Errorf("%s: tar: %w", r.ID(), err)
	}
	if _, err := tw.Write(r.Data); err != nil {
		return mutate.Addendum{}, fmt.Errorf("%s: tar: %w", r.ID(), err)
	}
	if err := tw.Close(); err != nil {
		return mutate.Addendum{}, fmt.Errorf("%s: tar: %w", r.ID(), err)
	}
	tarBytes := buf.Bytes()
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(tarBytes)), nil
	}, tarball.WithMediaType(types.OCILayer), tarball.WithCompressedCaching)
	if err != nil {
		return mutate.Addendum{}, fmt.Errorf("%s: layer: %w", r.ID(), err)
	}
	return mutate.Addendum{
		Layer: layer,
		Annotations: map[string]string{
			AnnotationName:       r.Name,
			AnnotationKind:       strings.ToLower(r.Kind),
			AnnotationAPIVersion: r.Version,
		},
		History: v1.History{Created: v1.Time{Time: mtime.UTC().Truncate(time.Second)}, CreatedBy: "build-bundles " + r.Path},
	}, nil
}

// Image packs resources into one bundle image. Two kinds of the same name, more than MaxObjects
// resources or none at all are refused: Tekton would refuse the bundle later, less clearly.
func Image(resources []*Resource, created time.Time, labels map[string]string) (v1.Image, error) {
	if len(resources) == 0 {
		return nil, fmt.Errorf("empty bundle")
	}
	if len(resources) > MaxObjects {
		return nil, fmt.Errorf("bundle of %d resources: Tekton accepts at most %d", len(resources), MaxObjects)
	}
	seen := map[string]bool{}
	img := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	img, err := mutate.ConfigFile(img, &v1.ConfigFile{
		Created: v1.Time{Time: created.UTC().Truncate(time.Second)},
		Config:  v1.Config{Labels: labels},
	})
	if err != nil {
		return nil, fmt.Errorf("bundle config: %w", err)
	}
	for _, r := range resources {
		if seen[r.ID()] {
			return nil, fmt.Errorf("%s twice in one bundle (%s)", r.ID(), r.Path)
		}
		seen[r.ID()] = true
		add, err := r.Layer(created)
		if err != nil {
			return nil, err
		}
		if img, err = mutate.Append(img, add); err != nil {
			return nil, fmt.Errorf("%s: %w", r.ID(), err)
		}
	}
	return img, nil
}
