// Command generate writes the project's Tekton interface — the Tasks, the Pipeline, the tables
// of their READMEs and the check-input step's config — from the steps' Go config structs (see
// package tektongen). `make generate` runs it; CI fails when its output differs from the tree.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/release-to-prod/release-to-prod/pkg/build/tektongen"
)

func main() {
	root := flag.String("root", ".", "repository root")
	flag.Parse()
	files, err := tektongen.Files(*root)
	if err == nil {
		err = tektongen.Write(*root, files)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "generate:", err)
		os.Exit(1)
	}
	fmt.Printf("generated %d files\n", len(files))
}
