package bundle

import (
	"context"
	"io"
	"log"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	pipelinev1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	pipelinev1beta1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1beta1"
	"github.com/tektoncd/pipeline/pkg/client/clientset/versioned/scheme"
	"github.com/tektoncd/pipeline/pkg/remote/oci"
	tektonbundle "github.com/tektoncd/pipeline/pkg/resolution/resolver/bundle"
)

func loopbackRegistry(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// TestTektonResolvesPushedBundle pushes a Task + StepAction bundle, with the step image pinned to
// an image in the same registry, and reads it back with tektoncd/pipeline's bundles resolver
// (GetEntry, what the cluster runs) and its OCI resolver.
func TestTektonResolvesPushedBundle(t *testing.T) {
	ctx := context.Background()
	reg := loopbackRegistry(t) + "/rtp"

	// The step image the StepAction will be pinned to.
	stepImage, err := random.Index(64, 1, 2)
	require.NoError(t, err)
	imgRef, err := name.NewTag(reg + "/check-image:0.1.0")
	require.NoError(t, err)
	require.NoError(t, remote.WriteIndex(imgRef, stepImage))
	stepDigest, err := stepImage.Digest()
	require.NoError(t, err)

	task := decode(t, "tasks/check-image/0.1/check-image.yaml", taskYAML, "0.1")
	sa := decode(t, "stepactions/check-image/0.1/check-image.yaml", stepActionYAML, "0.1")
	digests := RegistryDigests{Registry: reg}
	_, err = sa.Pin(ctx, reg, digests)
	require.NoError(t, err)
	_, err = task.Pin(ctx, reg, digests)
	assert.ErrorContains(t, err, "notify:0.1.0", "the Task's inline notify image was never pushed")

	bundles, err := Plan([]*Resource{sa, task})
	require.NoError(t, err)
	require.Len(t, bundles, 1)
	img, err := Image(bundles[0].Resources, time.Unix(0, 0), nil)
	require.NoError(t, err)
	bundleRef := reg + "/" + bundles[0].Repository + ":" + bundles[0].Tag
	tag, err := name.NewTag(bundleRef)
	require.NoError(t, err)
	require.NoError(t, remote.Write(tag, img))
	bundleDigest, err := img.Digest()
	require.NoError(t, err)

	t.Run("bundles resolver GetEntry: task", func(t *testing.T) {
		got, err := tektonbundle.GetEntry(ctx, authn.DefaultKeychain, tektonbundle.RequestOptions{
			Bundle: bundleRef, EntryName: "check-image", Kind: "task",
		})
		require.NoError(t, err)
		obj, _, err := scheme.Codecs.UniversalDeserializer().Decode(got.Data(), nil, nil)
		require.NoError(t, err)
		tk, ok := obj.(*pipelinev1.Task)
		require.True(t, ok, "decoded %T", obj)
		assert.Equal(t, "check-image", tk.Name)
		require.NotEmpty(t, tk.Spec.Steps)
		assert.Equal(t, "check-image", tk.Spec.Steps[0].Ref.Name)
		assert.Equal(t, "v1", got.Annotations()[tektonbundle.ResolverAnnotationAPIVersion])
		assert.Equal(t, bundleDigest.Hex, got.RefSource().Digest["sha256"])
	})
	t.Run("bundles resolver GetEntry: stepaction pinned", func(t *testing.T) {
		got, err := tektonbundle.GetEntry(ctx, authn.DefaultKeychain, tektonbundle.RequestOptions{
			Bundle: bundleRef, EntryName: "check-image", Kind: "stepaction",
		})
		require.NoError(t, err)
		obj, _, err := scheme.Codecs.UniversalDeserializer().Decode(got.Data(), nil, nil)
		require.NoError(t, err)
		s, ok := obj.(*pipelinev1beta1.StepAction)
		require.True(t, ok, "decoded %T", obj)
		assert.Equal(t, reg+"/check-image:0.1.0@"+stepDigest.String(), s.Spec.Image)
		_, err = name.NewDigest(s.Spec.Image)
		assert.NoError(t, err, "a pullable digest reference")
	})
	t.Run("oci resolver List and Get", func(t *testing.T) {
		r := oci.NewResolver(bundleRef, authn.DefaultKeychain)
		list, err := r.List(ctx)
		require.NoError(t, err)
		var ids []string
		for _, o := range list {
			ids = append(ids, o.Kind+"/"+o.Name+"@"+o.APIVersion)
		}
		assert.Equal(t, []string{"task/check-image@v1", "stepaction/check-image@v1beta1"}, ids)
		obj, _, err := r.Get(ctx, "task", "check-image")
		require.NoError(t, err)
		assert.IsType(t, &pipelinev1.Task{}, obj)
	})
	t.Run("missing entry", func(t *testing.T) {
		_, err := tektonbundle.GetEntry(ctx, authn.DefaultKeychain, tektonbundle.RequestOptions{
			Bundle: bundleRef, EntryName: "nope", Kind: "task",
		})
		assert.ErrorContains(t, err, "could not find object")
	})
}
