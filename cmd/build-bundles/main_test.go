package main

import (
	"bytes"
	"context"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/release-to-prod/release-to-prod/pkg/build/bundle"
	"github.com/release-to-prod/release-to-prod/pkg/build/imagebuild"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	pipelinev1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	"github.com/tektoncd/pipeline/pkg/client/clientset/versioned/scheme"
	tektonbundle "github.com/tektoncd/pipeline/pkg/resolution/resolver/bundle"
)

// TestPushRepositoryBundles packs this repository's YAML with --pin-images against a loopback
// registry holding a (random) image for every step the YAML names, and reads the check-image
// bundle back with Tekton's bundles resolver.
func TestPushRepositoryBundles(t *testing.T) {
	ctx := context.Background()
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	reg := strings.TrimPrefix(srv.URL, "http://") + "/release-to-prod"

	root, err := imagebuild.ModuleRoot(".")
	require.NoError(t, err)
	resources, err := bundle.Load(root)
	require.NoError(t, err)
	pushed := map[string]string{}
	for _, r := range resources {
		for _, ref := range bundle.StepImages(r.Data) {
			key := ref.Step + ":" + ref.Tag
			if _, ok := pushed[key]; ok {
				continue
			}
			idx, err := random.Index(32, 1, 2)
			require.NoError(t, err)
			tag, err := name.NewTag(reg + "/" + key)
			require.NoError(t, err)
			require.NoError(t, remote.WriteIndex(tag, idx))
			d, err := idx.Digest()
			require.NoError(t, err)
			pushed[key] = reg + "/" + key + "@" + d.String()
		}
	}
	require.Contains(t, pushed, "check-image:0.1.0")

	var out bytes.Buffer
	require.NoError(t, run(ctx, []string{"--registry", reg, "--pin-images"}, &out))
	t.Log("\n" + out.String())
	assert.Regexp(t, `(?m)^✓ task-check-image sha256:[0-9a-f]{64} \(task/check-image\) → `+regexp.QuoteMeta(reg)+`/task-check-image:0\.1$`, out.String())

	// Steps are inline: the Task is the whole bundle, its step image pinned by digest.
	got, err := tektonbundle.GetEntry(ctx, authn.DefaultKeychain, tektonbundle.RequestOptions{
		Bundle: reg + "/task-check-image:0.1", EntryName: "check-image", Kind: "task",
	})
	require.NoError(t, err)
	obj, _, err := scheme.Codecs.UniversalDeserializer().Decode(got.Data(), nil, nil)
	require.NoError(t, err)
	task, ok := obj.(*pipelinev1.Task)
	require.True(t, ok, "decoded %T", obj)
	require.Len(t, task.Spec.Steps, 1)
	assert.Equal(t, pushed["check-image:0.1.0"], task.Spec.Steps[0].Image)

	// The Pipeline's bundle is self-contained, its inline steps pinned alike.
	if _, err := os.Stat(filepath.Join(root, "pipelines", "release-to-prod", "0.1")); err == nil {
		got, err := tektonbundle.GetEntry(ctx, authn.DefaultKeychain, tektonbundle.RequestOptions{
			Bundle: reg + "/pipeline-release-to-prod:0.1", EntryName: "release-to-prod", Kind: "pipeline",
		})
		require.NoError(t, err)
		obj, _, err := scheme.Codecs.UniversalDeserializer().Decode(got.Data(), nil, nil)
		require.NoError(t, err)
		assert.IsType(t, &pipelinev1.Pipeline{}, obj)
		assert.Contains(t, string(got.Data()), "image: "+pushed["check-image:0.1.0"])
	}

	// Unpinned, the YAML goes in as written.
	out.Reset()
	require.NoError(t, run(ctx, []string{"--registry", reg}, &out))
	got, err = tektonbundle.GetEntry(ctx, authn.DefaultKeychain, tektonbundle.RequestOptions{
		Bundle: reg + "/task-check-image:0.1", EntryName: "check-image", Kind: "task",
	})
	require.NoError(t, err)
	assert.Contains(t, string(got.Data()), "image: quay.io/release-to-prod/check-image:0.1.0")
}

func TestRunRejects(t *testing.T) {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	empty := strings.TrimPrefix(srv.URL, "http://") + "/empty"
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no registry", nil, "--registry is required"},
		{"stray argument", []string{"--registry", "r.example", "extra"}, "unexpected arguments"},
		{"images not pushed", []string{"--registry", empty, "--pin-images"}, "push it first: make images REGISTRY=" + empty},
		{"images not built", []string{"--registry", empty, "--pin-images", "--images-layout", t.TempDir()}, "build it first: make images"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := run(context.Background(), tt.args, io.Discard)
			assert.ErrorContains(t, err, tt.want)
		})
	}
}
