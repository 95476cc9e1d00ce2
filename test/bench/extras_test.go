package main

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/release-to-prod/release-to-prod/pkg/build/imagebuild"
	"github.com/release-to-prod/release-to-prod/test/cluster"
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

func TestStepGaps(t *testing.T) {
	at := func(ms int) time.Time { return time.Unix(0, 0).Add(time.Duration(ms) * time.Millisecond) }
	step := func(began, lastRan int) cluster.ContainerMemory {
		return cluster.ContainerMemory{Began: at(began), LastRan: at(lastRan)}
	}
	tests := []struct {
		name   string
		steps  []cluster.ContainerMemory
		want   gaps
		wantOK bool
	}{
		{"one step: no gap", []cluster.ContainerMemory{step(0, 100)}, gaps{}, false},
		{"ordered by start, whatever the order given", []cluster.ContainerMemory{step(1100, 1200), step(0, 100), step(2000, 2050)},
			gaps{total: 1800 * time.Millisecond, longest: 1000 * time.Millisecond, ran: 250 * time.Millisecond}, true},
		{"overlap within a sample counts zero", []cluster.ContainerMemory{step(0, 100), step(90, 200)},
			gaps{total: 0, longest: 0, ran: 210 * time.Millisecond}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := stepGaps(tt.steps)
			assert.Equal(t, tt.wantOK, ok)
			assert.Equal(t, tt.want, got)
		})
	}
}
