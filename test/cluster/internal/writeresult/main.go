// Command write-result is the step of the test cluster's own tests: it writes one Tekton result
// of a chosen size, so that a test can check a result end to end and what the kubelet's
// termination-message cap does to a big one.
//
//	RESULT_PATH   file to write ($(results.<name>.path))
//	RESULT_VALUE  the value; padded with 'x' up to RESULT_SIZE bytes when that is larger
package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "write-result:", err)
		os.Exit(1)
	}
}

func run() error {
	path := os.Getenv("RESULT_PATH")
	if path == "" {
		return fmt.Errorf("RESULT_PATH is empty: set it to $(results.<name>.path)")
	}
	value := os.Getenv("RESULT_VALUE")
	if s := os.Getenv("RESULT_SIZE"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return fmt.Errorf("RESULT_SIZE=%q: want a byte count", s)
		}
		if n > len(value) {
			value += strings.Repeat("x", n-len(value))
		}
	}
	if err := os.WriteFile(path, []byte(value), 0o644); err != nil {
		return fmt.Errorf("writing the result: %w", err)
	}
	fmt.Printf("✓ wrote %d bytes to %s as uid %d\n", len(value), path, os.Getuid())
	return nil
}
