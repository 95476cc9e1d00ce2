package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"

	"github.com/release-to-prod/release-to-prod/test/sandbox"
	"github.com/release-to-prod/release-to-prod/test/stage"
)

func init() {
	type extra = struct {
		name string
		run  func(context.Context, *Report, *sandbox.Sandbox, *sandbox.Tenant, int) error
	}
	extras = append(extras, extra{"pipeline", pipelineRun}, extra{"critical-path", criticalPath},
		extra{"images", imageSizes}, extra{"scale", scale}, extra{"memory", memory},
		extra{"cluster", clusterSection})
}

// pipelineRun times the whole Pipeline through the local runner against a running stage, as a
// dry run (every gate, the Release printed, the report), so the release-service stand-in's
// delay is not measured.
func pipelineRun(ctx context.Context, rep *Report, _ *sandbox.Sandbox, _ *sandbox.Tenant, runs int) error {
	dir, err := os.MkdirTemp("", "bench-stage-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	root, _ := os.Getwd()
	var log bytes.Buffer
	w, err := stage.Start(ctx, root, dir, &log)
	if err != nil {
		return fmt.Errorf("stage: %w\n%s", err, log.String())
	}
	defer w.Stop()
	args := append(w.PipelineArgs(), "-p", "dry_run=true")
	n := min(runs, 5)
	d, err := median(n, func() *exec.Cmd { return exec.Command("bin/tkn-local", args...) })
	if err != nil {
		return err
	}
	rep.add("pipeline", fmt.Sprintf("full local dry run, 3 TaskRuns, 8 steps (median of %d)", n), d.Round(time.Millisecond).String(), "≤ 3 s", boolp(d <= 3*time.Second))
	return nil
}

func criticalPath(_ context.Context, rep *Report, _ *sandbox.Sandbox, _ *sandbox.Tenant, _ int) error {
	out, err := exec.Command("go", "run", "./cmd/lint-tekton").CombinedOutput()
	if err != nil {
		return fmt.Errorf("lint-tekton: %w\n%s", err, out)
	}
	m := regexp.MustCompile(`Pipeline release-to-prod: (\d+) TaskRuns on the critical path[^:]*: (.*)`).FindStringSubmatch(string(out))
	if m == nil {
		return fmt.Errorf("lint-tekton printed no critical path:\n%s", out)
	}
	n, _ := strconv.Atoi(m[1])
	rep.add("pipeline", "TaskRuns on the critical path ("+strings.TrimSpace(m[2])+")", m[1], "≤ 3", boolp(n <= 3))
	return nil
}

// imageSizes builds every step's image (both platforms) and reports the compressed size.
func imageSizes(ctx context.Context, rep *Report, _ *sandbox.Sandbox, _ *sandbox.Tenant, _ int) error {
	dir, err := os.MkdirTemp("", "bench-images-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	cmd := exec.CommandContext(ctx, "go", "run", "./cmd/build-images", "--out", dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("build-images: %w\n%s", err, out)
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	re := regexp.MustCompile(`^✓ (\S+) \S+ .*linux/amd64=([0-9.]+)(MiB|KiB)`)
	found := 0
	for sc.Scan() {
		if m := re.FindStringSubmatch(sc.Text()); m != nil {
			v, _ := strconv.ParseFloat(m[2], 64)
			mb := v * 1.048576
			if m[3] == "KiB" {
				mb = v * 1.024 / 1000
			}
			rep.add("image size (compressed, amd64)", m[1], fmt.Sprintf("%.2f MB", mb), "≤ 5 MB (budget 8 MB)", boolp(mb <= 5))
			found++
		}
	}
	if found == 0 {
		rep.add("image size (compressed)", "all steps", "see build-images output: "+firstLine(out), "≤ 5 MB", nil)
		return nil
	}
	pull, err := coldPull(dir, "amd64")
	if err != nil {
		return err
	}
	rep.add("image size (compressed, amd64)", fmt.Sprintf("what a cold node pulls for the %d step images (manifests, configs, layers; a blob two images share counted once)", pull.images),
		fmt.Sprintf("%s (%s if no blob were shared; the base layer, %s, is in every image)", mb(pull.unique), mb(pull.naive), mb(pull.base)),
		"≤ 20 MB", boolp(pull.unique <= 20e6))
	return nil
}

// pulled is what pulling every step image of one platform costs a node that has none.
type pulled struct {
	images        int
	unique, naive int64 // bytes: each blob once; each image's blobs as if nothing were shared
	base          int64 // the compressed size of the layer every image has
}

// coldPull reads the OCI layouts build-images wrote under dir and adds up what a node of
// architecture arch GETs from the registry: each step's index, its image manifest, config and
// layers; a blob already pulled (the shared base layer) is not pulled again.
func coldPull(dir, arch string) (pulled, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return pulled{}, err
	}
	n := pullCount{seen: map[v1.Hash]bool{}, inEvery: map[v1.Hash]int{}, sizes: map[v1.Hash]int64{}}
	for _, e := range entries {
		blobs, layers, err := layoutBlobs(filepath.Join(dir, e.Name()), arch)
		if err != nil {
			return n.pulled, fmt.Errorf("%s: %w", e.Name(), err)
		}
		n.add(blobs, layers)
	}
	for d, k := range n.inEvery {
		if k == n.images && k > 1 {
			n.base = n.sizes[d]
		}
	}
	return n.pulled, nil
}

// pullCount is coldPull's tally, image by image.
type pullCount struct {
	pulled
	seen    map[v1.Hash]bool  // blobs pulled already
	inEvery map[v1.Hash]int   // how many images have each layer
	sizes   map[v1.Hash]int64 // each blob's size
}

// add counts one image's blobs, of which layers are its layers.
func (n *pullCount) add(blobs, layers []v1.Descriptor) {
	for _, l := range layers {
		n.inEvery[l.Digest]++
	}
	n.images++
	for _, b := range blobs {
		n.naive += b.Size
		n.sizes[b.Digest] = b.Size
		if !n.seen[b.Digest] {
			n.seen[b.Digest] = true
			n.unique += b.Size
		}
	}
}

// layoutBlobs returns what a node of architecture arch pulls of the one image index in the OCI
// layout at path: the index, each arch image's manifest, config and layers (the last also
// returned alone).
func layoutBlobs(path, arch string) (blobs, layers []v1.Descriptor, err error) {
	top, err := layout.ImageIndexFromPath(path)
	if err != nil {
		return nil, nil, err
	}
	tm, err := top.IndexManifest()
	if err != nil || len(tm.Manifests) != 1 {
		return nil, nil, fmt.Errorf("want one index in the layout: %v", err)
	}
	idx, err := top.ImageIndex(tm.Manifests[0].Digest)
	if err != nil {
		return nil, nil, err
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, nil, err
	}
	blobs = []v1.Descriptor{tm.Manifests[0]}
	for _, d := range im.Manifests {
		if d.Platform == nil || d.Platform.Architecture != arch {
			continue
		}
		img, err := idx.Image(d.Digest)
		if err != nil {
			return nil, nil, err
		}
		m, err := img.Manifest()
		if err != nil {
			return nil, nil, err
		}
		blobs = append(append(blobs, d, m.Config), m.Layers...)
		layers = append(layers, m.Layers...)
	}
	return blobs, layers, nil
}

func firstLine(b []byte) string {
	s, _, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
	return s
}

// scale runs the preflight benchmark at 100 and 10,000 Snapshots + Releases.
func scale(ctx context.Context, rep *Report, _ *sandbox.Sandbox, _ *sandbox.Tenant, _ int) error {
	cmd := exec.CommandContext(ctx, "go", "test", "-run", "^$", "-bench", "BenchmarkPreflight", "-benchtime", "20x", "./test/e2e/")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("preflight benchmark: %w\n%s", err, out)
	}
	_ = os.WriteFile(filepath.Join("out", "bench-preflight.txt"), out, 0o644)
	vals := map[string]map[string]float64{}
	re := regexp.MustCompile(`^BenchmarkPreflight(\d+)\S*\s+\d+\s+(.*)$`)
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		m := re.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		f := strings.Fields(m[2])
		vals[m[1]] = map[string]float64{}
		for i := 0; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err == nil {
				vals[m[1]][f[i+1]] = v
			}
		}
	}
	small, large := vals["100"], vals["10000"]
	if small == nil || large == nil {
		rep.add("scale", "preflight 100 vs 10,000 objects", "not measured: benchmark output not understood (out/bench-preflight.txt)", "≤ 2×", nil)
		return nil
	}
	ratio := large["step-ns/op"] / small["step-ns/op"]
	rep.add("scale", "preflight process, 100 objects", time.Duration(small["step-ns/op"]).Round(time.Microsecond).String(), "", nil)
	rep.add("scale", "preflight process, 10,000 Snapshots + 10,000 Releases", time.Duration(large["step-ns/op"]).Round(time.Microsecond).String(), "", nil)
	rep.add("scale", "time ratio 10,000 / 100", fmt.Sprintf("%.1f×", ratio), "≤ 2×", boolp(ratio <= 2))
	if a, b := small["maxrss-bytes"], large["maxrss-bytes"]; a > 0 && b > 0 {
		rep.add("scale", "peak RSS 100 → 10,000", fmt.Sprintf("%.1f MB → %.1f MB (%.2f×)", a/1e6, b/1e6, b/a), "flat", boolp(b/a <= 1.25))
	}
	return nil
}

// memory runs the e2e test that measures every step's peak RSS in a dry run of the Pipeline in
// a namespace of 10,000 Snapshots and 10,000 Releases, and reports each next to the memory
// limit its container gets (pkg/build/tektongen/steps.go, through the generated YAML).
func memory(ctx context.Context, rep *Report, _ *sandbox.Sandbox, _ *sandbox.Tenant, _ int) error {
	cmd := exec.CommandContext(ctx, "go", "test", "-count=1", "-run", "^TestStepMemory$", "-v", "./test/e2e/")
	cmd.Env = append(os.Environ(), "STEP_MEMORY_OBJECTS=10000")
	out, err := cmd.CombinedOutput()
	_ = os.WriteFile(filepath.Join("out", "bench-memory.txt"), out, 0o644)
	re := regexp.MustCompile(`step-memory (\S+) peak=(\d+) limit=(\d+) objects=(\d+)`)
	found := 0
	for _, m := range re.FindAllStringSubmatch(string(out), -1) {
		peak, _ := strconv.ParseFloat(m[2], 64)
		limit, _ := strconv.ParseFloat(m[3], 64)
		share := peak / limit
		rep.add("memory (peak RSS, 10,000 Snapshots + Releases)", m[1],
			fmt.Sprintf("%.1f MB of %.0fMi (%.0f%%, headroom %.1f MB)", peak/1e6, limit/(1<<20), share*100, (limit-peak)/1e6),
			"≤ 80% of the limit", boolp(share <= 0.8))
		found++
	}
	if err != nil && found == 0 {
		return fmt.Errorf("step memory test: %w (out/bench-memory.txt)", err)
	}
	if found == 0 {
		rep.add("memory", "every step", "not measured: test output not understood (out/bench-memory.txt)", "≤ 80% of the limit", nil)
	}
	return nil
}
