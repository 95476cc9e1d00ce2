// Command check-tree fails when git tracks an executable binary or a file over 1 MiB (see
// package gittree); CI runs it on every change.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/release-to-prod/release-to-prod/pkg/build/gittree"
)

func main() {
	root := flag.String("root", ".", "repository root")
	flag.Parse()
	problems, err := gittree.Check(*root)
	if err != nil {
		fmt.Fprintln(os.Stderr, "check-tree:", err)
		os.Exit(2)
	}
	for _, p := range problems {
		fmt.Fprintln(os.Stderr, "check-tree:", p)
	}
	if len(problems) > 0 {
		os.Exit(1)
	}
	fmt.Println("check-tree: no binary or oversized file is tracked")
}
