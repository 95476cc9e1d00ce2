// Command build-tools builds (or finds in the cache) the real components the tests run and
// prints their paths. `make tools` runs it for every tool; names given as arguments
// (build-tools kubelet tekton-controller) build only those.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/release-to-prod/release-to-prod/test/tools"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:])
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "build-tools:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, names []string) error {
	selected, err := tools.Select(names)
	if err != nil {
		return err
	}
	for _, t := range selected {
		p, err := tools.Path(ctx, t, os.Stderr)
		if err != nil {
			return err
		}
		fmt.Println(p)
	}
	return nil
}
