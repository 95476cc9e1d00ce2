// Command build-tools builds (or finds in the cache) the sandbox's real components and prints
// their paths. `make tools` runs it.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/release-to-prod/release-to-prod/test/tools"
)

func main() {
	for _, t := range tools.All {
		p, err := tools.Path(context.Background(), t, os.Stderr)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Println(p)
	}
}
