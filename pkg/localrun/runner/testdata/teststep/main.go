// Command teststep is the runner tests' step: it prints ECHO (and the file READ names, after an optional "path=" prefix: a StepAction param may not start with $(steps.),
// writes the results WRITE lists (NAME=value pairs, comma-separated; BIG_SIZE bytes for BIG)
// into RESULTS_DIR, and exits with EXIT.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

func main() {
	dir := filepath.Clean(os.Getenv("RESULTS_DIR"))
	if e := os.Getenv("ECHO"); e != "" {
		fmt.Println("echo:", e)
	}
	if f := strings.TrimPrefix(os.Getenv("READ"), "path="); f != "" {
		b, err := os.ReadFile(f)
		fmt.Printf("read %s: %q %v\n", filepath.Base(f), b, err)
	}
	for _, kv := range strings.Split(os.Getenv("WRITE"), ",") {
		if k, v, ok := strings.Cut(kv, "="); ok {
			if err := os.WriteFile(filepath.Join(dir, k), []byte(v), 0o644); err != nil {
				fmt.Println(err)
				os.Exit(9)
			}
		}
	}
	if n, _ := strconv.Atoi(os.Getenv("BIG_SIZE")); n > 0 {
		_ = os.WriteFile(filepath.Join(dir, "BIG"), []byte(strings.Repeat("x", n)), 0o644)
	}
	code, _ := strconv.Atoi(os.Getenv("EXIT"))
	os.Exit(code)
}
