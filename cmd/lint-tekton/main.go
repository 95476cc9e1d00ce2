// Command lint-tekton checks the repository's Tekton YAML with tektoncd/pipeline's own code
// (see package tekton): strict decoding, defaults and validation, StepAction resolution, the
// wiring of every Pipeline, what a Konflux tenant's cluster requires, no result name that Tekton
// Chains takes for a built artifact, and prints each Pipeline's critical path. It exits non-zero
// on any problem, or when a Pipeline has more TaskRuns on its critical path than
// -max-critical-path.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"

	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	"sigs.k8s.io/yaml"

	"github.com/release-to-prod/release-to-prod/pkg/build/tekton"
)

func main() {
	root := flag.String("root", ".", "repository root (holds stepactions/, tasks/, pipelines/)")
	maxPath := flag.Int("max-critical-path", 3, "most TaskRuns allowed on a Pipeline's critical path (DESIGN.md §6)")
	flag.Parse()
	os.Exit(run(context.Background(), *root, *maxPath))
}

func run(ctx context.Context, root string, maxPath int) int {
	repo, err := tekton.Load(root)
	failed := false
	if err != nil {
		report(err)
		failed = true
	}
	if err := repo.Check(ctx); err != nil {
		report(err)
		failed = true
	}
	if err := repo.CheckTenant(); err != nil {
		report(err)
		failed = true
	}
	if err := repo.CheckChains(); err != nil {
		report(err)
		failed = true
	}
	for _, name := range tekton.Names(repo.Pipelines) {
		n, path, err := tekton.CriticalPath(&repo.Pipelines[name].Spec)
		if err != nil {
			report(err)
			failed = true
			continue
		}
		mark := "✓"
		if n > maxPath {
			mark = "✗"
			failed = true
		}
		fmt.Printf("%s Pipeline %s: %d TaskRuns on the critical path (at most %d): %s\n", mark, name, n, maxPath, strings.Join(path, " → "))
	}
	if err := checkRuns(root, repo); err != nil {
		report(err)
		failed = true
	}
	if failed {
		return 1
	}
	fmt.Printf("✓ %d StepActions, %d Tasks, %d Pipelines: valid and wired\n", len(repo.StepActions), len(repo.Tasks), len(repo.Pipelines))
	return 0
}

func report(err error) {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			report(e)
		}
		return
	}
	fmt.Fprintln(os.Stderr, "✗", err)
}

// Waits are the params whose durations the critical path may wait for, one after the other:
// the build (check-image), a queued scan (check-vulnerabilities), the Release (create-release).
var Waits = []string{"build_wait_timeout", "scan_poll_timeout", "release_timeout"}

// checkRuns checks the Pipelines-as-Code runs a team copies into its component repository
// (tekton.PaCDir): they decode strictly, fetch the Pipeline from a pinned release of this
// repository and list their placeholders (tekton.CheckPaCRun), and their timeouts fit the
// Pipeline's waits (tekton.CheckTimeouts).
func checkRuns(root string, repo *tekton.Repo) error {
	files, err := tekton.PaCRunFiles(root)
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return fmt.Errorf("no PipelineRun in %s/", tekton.PaCDir)
	}
	p := repo.Pipelines["release-to-prod"]
	if p == nil {
		return errors.New("no Pipeline release-to-prod")
	}
	var errs []error
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return fmt.Errorf("reading %s: %w", f, err)
		}
		var pr v1.PipelineRun
		if err := yaml.UnmarshalStrict(b, &pr); err != nil {
			errs = append(errs, &tekton.FileError{Path: f, Err: err})
			continue
		}
		if err := tekton.CheckPaCRun(&pr, b); err != nil {
			errs = append(errs, &tekton.FileError{Path: f, Err: err})
			continue
		}
		if err := tekton.CheckTimeouts(&pr, p, Waits); err != nil {
			errs = append(errs, &tekton.FileError{Path: f, Err: err})
			continue
		}
		fmt.Printf("✓ %s: Pipeline by the %s resolver from a pinned release; placeholders to set: %s\n", f, pr.Spec.PipelineRef.Resolver, strings.Join(tekton.PaCPlaceholders(&pr), ", "))
		fmt.Printf("✓ %s: timeouts tasks %s, finally %s fit the waits (%s)\n", f, pr.Spec.Timeouts.Tasks.Duration, pr.Spec.Timeouts.Finally.Duration, strings.Join(Waits, " + "))
	}
	return errors.Join(errs...)
}
