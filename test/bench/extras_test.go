package main

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/release-to-prod/release-to-prod/pkg/imagebuild"
)

const testPEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"

// TestColdPull: the layer every step image shares counts once in what a cold node pulls, the
// other platform's blobs not at all.
func TestColdPull(t *testing.T) {
	dir := t.TempDir()
	steps := []string{"check-image", "notify", "gate-verdict"}
	for _, step := range steps {
		m := imagebuild.Metadata{Step: step, Version: "0.1.0", Created: time.Unix(0, 0)}
		var imgs []imagebuild.PlatformImage
		for _, p := range imagebuild.Platforms {
			img, err := imagebuild.Image(m, p, []byte("ELF "+step+" "+p.Architecture), []byte(testPEM))
			require.NoError(t, err)
			imgs = append(imgs, imagebuild.PlatformImage{Platform: p, Image: img})
		}
		idx, err := imagebuild.Index(m, imgs)
		require.NoError(t, err)
		require.NoError(t, imagebuild.WriteLayout(filepath.Join(dir, step), idx, ""))
	}

	got, err := coldPull(dir, "amd64")
	require.NoError(t, err)
	assert.Equal(t, len(steps), got.images)
	assert.Positive(t, got.base, "the base layer is found in every image")
	assert.Equal(t, got.naive-got.unique, int64(len(steps)-1)*got.base, "the base layer pulled once, not once per image")

	arm, err := coldPull(dir, "arm64")
	require.NoError(t, err)
	assert.Equal(t, got.base, arm.base, "the same base layer on both platforms")
}
