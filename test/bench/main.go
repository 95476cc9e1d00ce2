// Command bench measures the steps side by side with the tools an engineer would otherwise use,
// in one run on this machine, and writes a Markdown report (out/bench.md) with figures and
// ratios next to the targets of DESIGN.md §6 and the issue. `make bench` runs it.
//
// It starts the sandbox itself (API server, registry) and stops it at the end.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/release-to-prod/release-to-prod/test/sandbox"
	"github.com/release-to-prod/release-to-prod/test/tools"
)

const sha = "b1b2c3d4e5f60718293a4b5c6d7e8f9012345678"

func main() {
	out := flag.String("out", "out/bench.md", "report file")
	runs := flag.Int("runs", 15, "runs per measured command")
	only := flag.String("only", "", "comma-separated sections to measure (image, konflux, sizes, pipeline, critical-path, images, scale, memory, cluster); empty: all")
	flag.Parse()
	if err := run(*out, *runs, *only); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// Report collects the sections.
type Report struct {
	Rows []Row
	When time.Time
}

// Row is one figure with its target.
type Row struct {
	Section, What, Figure, Target string
	Met                           *bool
}

func (r *Report) add(section, what, figure, target string, met *bool) {
	r.Rows = append(r.Rows, Row{section, what, figure, target, met})
	fmt.Printf("  %-28s %-48s %s\n", section, what, figure)
}

func boolp(b bool) *bool { return &b }

func run(outPath string, runs int, only string) error {
	want := func(section string) bool { return only == "" || slices.Contains(strings.Split(only, ","), section) }
	ctx := context.Background()
	root, err := tools.Root()
	if err != nil {
		return err
	}
	if err := os.Chdir(root); err != nil {
		return err
	}
	rep := &Report{When: time.Now().UTC()}
	fmt.Println("bench: starting the sandbox")
	s, err := sandbox.Start(ctx, sandbox.Options{})
	if err != nil {
		return err
	}
	// Once: the interrupt handler and the deferred call may both stop it.
	stopSandbox := sync.OnceValue(s.Stop)
	defer func() { _ = stopSandbox() }()
	defer stopOnInterrupt(stopSandbox)()
	tenant, err := s.SeedTenant(ctx, sandbox.TenantOptions{SHA: sha})
	if err != nil {
		return err
	}

	if want("image") {
		if err := imageGate(rep, s, tenant, runs); err != nil {
			return err
		}
	}
	if want("konflux") {
		if err := konfluxLookups(rep, s, tenant, runs); err != nil {
			return err
		}
	}
	if want("sizes") {
		if err := sizes(rep); err != nil {
			return err
		}
	}
	for _, extra := range extras {
		if !want(extra.name) {
			continue
		}
		if err := extra.run(ctx, rep, s, tenant, runs); err != nil {
			return err
		}
	}
	return write(rep, outPath)
}

// extras are the sections that other files add (pipeline, scale, images, memory), by name.
var extras []struct {
	name string
	run  func(context.Context, *Report, *sandbox.Sandbox, *sandbox.Tenant, int) error
}

// median runs cmd n times (after one warm-up) and returns the median wall time.
func median(n int, mk func() *exec.Cmd) (time.Duration, error) {
	var ds []time.Duration
	for i := 0; i <= n; i++ {
		cmd := mk()
		var buf bytes.Buffer
		cmd.Stdout, cmd.Stderr = &buf, &buf
		start := time.Now()
		if err := cmd.Run(); err != nil {
			return 0, fmt.Errorf("%s: %w\n%s", strings.Join(cmd.Args, " "), err, buf.String())
		}
		if i > 0 { // the first run warms caches
			ds = append(ds, time.Since(start))
		}
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	return ds[len(ds)/2], nil
}

func shell(script string, env ...string) func() *exec.Cmd {
	return func() *exec.Cmd {
		c := exec.Command("bash", "-c", script)
		c.Env = append(os.Environ(), env...)
		return c
	}
}

func imageGate(rep *Report, s *sandbox.Sandbox, t *sandbox.Tenant, runs int) error {
	if _, err := exec.LookPath("skopeo"); err != nil {
		rep.add("image gate", "vs skopeo inspect", "not measured: skopeo is not installed (apt-get install skopeo)", "≥ 5× faster", nil)
		return nil
	}
	res, err := os.MkdirTemp("", "bench-results-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(res)
	gate, err := median(runs, shell("bin/check-image", "COMMIT_SHA="+sha, "REPOSITORY="+t.Repository, "RESULTS_DIR="+res))
	if err != nil {
		return err
	}
	sk, err := median(runs, shell("skopeo inspect --tls-verify=false --raw docker://"+t.Repository+":"+sha+" > /dev/null"))
	if err != nil {
		return err
	}
	ratio := float64(sk) / float64(gate)
	rep.add("image gate", "check-image (median)", gate.Round(time.Microsecond).String(), "", nil)
	rep.add("image gate", "skopeo inspect --raw (median)", sk.Round(time.Microsecond).String(), "", nil)
	rep.add("image gate", "speed-up over skopeo", fmt.Sprintf("%.1f×", ratio), "≥ 5×", boolp(ratio >= 5))
	return nil
}

func konfluxLookups(rep *Report, s *sandbox.Sandbox, t *sandbox.Tenant, runs int) error {
	kubectl, err := tools.Path(context.Background(), tools.Kubectl, os.Stderr)
	if err != nil {
		return err
	}
	if _, err := exec.LookPath("jq"); err != nil {
		rep.add("konflux lookups", "vs kubectl | jq", "not measured: jq is not installed (apt-get install jq)", "≥ 3× faster", nil)
		return nil
	}
	if _, err := os.Stat("bin/check-konflux"); err != nil {
		rep.add("konflux lookups", "vs kubectl | jq", "not measured: bin/check-konflux missing", "≥ 3× faster", nil)
		return nil
	}
	res, err := os.MkdirTemp("", "bench-results-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(res)
	sel := fmt.Sprintf("appstudio.openshift.io/component=%s,pac.test.appstudio.openshift.io/sha=%s", t.Component, sha)
	script := fmt.Sprintf(`set -o pipefail
%[1]s --kubeconfig %[2]s -n %[3]s get snapshots -l %[4]s -o json | jq -r '[.items[] | select(.metadata.labels["pac.test.appstudio.openshift.io/event-type"]=="push") | select(any(.status.conditions[]?; .type=="AppStudioTestSucceeded" and .status=="True"))] | sort_by(.metadata.creationTimestamp) | last | .metadata.name' > /dev/null
%[1]s --kubeconfig %[2]s -n %[3]s get releases -l pac.test.appstudio.openshift.io/sha=%[5]s -o json | jq -r '.items | length' > /dev/null`,
		kubectl, s.Kubeconfig, t.Namespace, sel, sha)
	kj, err := median(runs, shell(script))
	if err != nil {
		return err
	}
	pre, err := median(runs, shell("bin/check-konflux", "COMMIT_SHA="+sha, "NAMESPACE="+t.Namespace, "KUBECONFIG="+s.Kubeconfig,
		"PINNED_DIGEST="+t.Digest, "RESULTS_DIR="+res))
	if err != nil {
		return err
	}
	ratio := float64(kj) / float64(pre)
	rep.add("konflux lookups", "check-konflux, all checks (median)", pre.Round(time.Microsecond).String(), "", nil)
	rep.add("konflux lookups", "kubectl get … | jq, Snapshot + Releases (median)", kj.Round(time.Microsecond).String(), "", nil)
	rep.add("konflux lookups", "speed-up over kubectl + jq", fmt.Sprintf("%.1f×", ratio), "≥ 3×", boolp(ratio >= 3))
	return nil
}

func sizes(rep *Report) error {
	entries, err := os.ReadDir("steps")
	if err != nil {
		return err
	}
	for _, e := range entries {
		e, err := os.Stat(filepath.Join("bin", e.Name()))
		if err != nil {
			return fmt.Errorf("bin/: run make build first: %w", err)
		}
		fi := e
		mb := float64(fi.Size()) / 1e6
		rep.add("binary size (stripped)", e.Name(), fmt.Sprintf("%.1f MB", mb), "≤ 15 MB", boolp(mb <= 15))
	}
	return nil
}

func write(rep *Report, path string) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# Benchmark report\n\nMeasured %s on this machine (%s), in one run; medians of repeated runs after a warm-up.\n\n",
		rep.When.Format("2006-01-02 15:04 UTC"), machine())
	fmt.Fprintf(&b, "| section | what | figure | target | met |\n|---|---|---|---|---|\n")
	missed := 0
	for _, r := range rep.Rows {
		met := ""
		if r.Met != nil {
			met = "yes"
			if !*r.Met {
				met = "**no**"
				missed++
			}
		}
		cell := func(s string) string { return strings.ReplaceAll(s, "|", "\\|") }
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", cell(r.Section), cell(r.What), cell(r.Figure), cell(r.Target), met)
	}
	if missed > 0 {
		fmt.Fprintf(&b, "\n%d target(s) missed: see the rows marked **no**.\n", missed)
	} else {
		fmt.Fprintf(&b, "\nEvery measured target met.\n")
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		return err
	}
	_, err := io.WriteString(os.Stdout, "\n"+b.String())
	return err
}

func machine() string {
	out, err := exec.Command("nproc").Output()
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(out)) + " cores"
}
