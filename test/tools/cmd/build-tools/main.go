// Command build-tools builds (or finds in the cache) the real components the tests run and
// prints their paths. `make tools` runs it for every tool; names given as arguments
// (build-tools kubelet tekton-controller) build only those, and -sandbox only what the sandbox
// (and so `make demo`) runs. Tools of different modules build in parallel: a module's link
// steps are single-threaded, so two modules keep two cores busier than one after the other.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"github.com/release-to-prod/release-to-prod/test/tools"
)

func main() {
	sandbox := flag.Bool("sandbox", false, "build only what the sandbox runs (kube-apiserver, etcd, Alertmanager, kubectl)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, *sandbox, flag.Args())
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "build-tools:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, sandbox bool, names []string) error {
	selected, err := tools.Select(names)
	if err != nil {
		return err
	}
	if sandbox {
		if len(names) > 0 {
			return errors.New("-sandbox takes no tool names")
		}
		selected = tools.Sandbox
	}
	// One goroutine per module, its tools in order: tools of one module share most packages,
	// and the first build of a module fills Go's build cache for the next.
	var order []string
	byModule := map[string][]tools.Tool{}
	for _, t := range selected {
		if _, ok := byModule[t.Module]; !ok {
			order = append(order, t.Module)
		}
		byModule[t.Module] = append(byModule[t.Module], t)
	}
	paths := map[string]string{}
	errs := make([]error, len(order))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i, m := range order {
		wg.Go(func() {
			for _, t := range byModule[m] {
				p, err := tools.Path(ctx, t, os.Stderr)
				if err != nil {
					errs[i] = err
					return
				}
				mu.Lock()
				paths[t.Name] = p
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	for _, t := range selected {
		fmt.Println(paths[t.Name])
	}
	return nil
}
