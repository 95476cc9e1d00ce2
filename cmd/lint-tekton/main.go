// Command lint-tekton checks the repository's Tekton YAML with tektoncd/pipeline's own code
// (see package tekton): strict decoding, defaults and validation, StepAction resolution, the
// wiring of every Pipeline, and prints each Pipeline's critical path. It exits non-zero on any
// problem, or when a Pipeline has more TaskRuns on its critical path than -max-critical-path.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/release-to-prod/release-to-prod/pkg/tekton"
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
