package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/release-to-prod/release-to-prod/pkg/actions/history"
	"github.com/release-to-prod/release-to-prod/pkg/clients/konflux"
	"github.com/release-to-prod/release-to-prod/pkg/step/knowledge"
)

// historyUsage is the help of `tkn-local history`.
const historyUsage = `Usage:
  tkn-local history <component> [-n namespace] [--kubeconfig file] [--history-configmap name] [--limit n]

Shows the release runs of a component, newest first, from every store the history is kept in:
the release-history ConfigMap (when the report may write it, e.g. self-hosted Konflux), the
record each Release the pipeline created carries (label release-to-prod/pipelinerun, annotation
release-to-prod/gates), and the results of the release-to-prod PipelineRuns (every run, also
those that created no Release). A run held by several stores is one row; FROM names them.
`

// historyCmd runs `tkn-local history …`. It exits 0 on success, 1 when no store could be read,
// 2 on a usage error.
func historyCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("tkn-local history", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, historyUsage) }
	var o failuresOptions
	o.clusterFlags(fs, "ConfigMap holding the release history; empty: do not read one")
	limit := fs.Int("limit", 50, "rows shown, newest first; 0: all")
	positional, err := parseInterleaved(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if len(positional) != 1 {
		fs.Usage()
		return 2
	}
	component := positional[0]
	if err := konflux.ValidNames(map[string]string{"component": component}); err != nil {
		fmt.Fprintln(stderr, "✗", err)
		return 2
	}
	kc, err := o.client()
	if err != nil {
		fmt.Fprintln(stderr, "✗", err)
		return 2
	}
	runs, err := history.Collect(ctx, kc, component, o.history)
	for _, n := range runs.Notes {
		fmt.Fprintln(stdout, "!", n)
	}
	if err != nil {
		fmt.Fprintln(stderr, "✗", err)
		return 1
	}
	if err := printRuns(stdout, runs.Runs, *limit, component, o.namespace); err != nil {
		fmt.Fprintln(stderr, "✗", err)
		return 1
	}
	return 0
}

// printRuns prints the runs as one table, newest first.
func printRuns(out io.Writer, runs []history.Run, limit int, component, namespace string) error {
	if len(runs) == 0 {
		_, err := fmt.Fprintf(out, "no release runs of %s in %s\n", component, namespace)
		return err
	}
	shown := runs
	if limit > 0 && len(shown) > limit {
		shown = shown[:limit]
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "RUN\tCOMMIT\tOUTCOME\tWHEN\tRELEASE\tGATES\tFROM")
	for _, r := range shown {
		when := "-"
		if !r.When.IsZero() {
			when = r.When.UTC().Format(time.RFC3339)
		}
		// Annotations and results are outside text: one plain line each, no tab to break the table.
		cell := func(s string) string { return orDash(knowledge.Text(s, 120)) }
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", cell(r.PipelineRun), cell(shortCommit(r.Commit)), cell(r.Outcome), when,
			cell(r.Release), cell(r.Gates), strings.Join(r.Sources, ","))
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("printing the history: %w", err)
	}
	if len(shown) < len(runs) {
		fmt.Fprintf(out, "(%d older runs not shown: --limit 0 shows all)\n", len(runs)-len(shown))
	}
	return nil
}

// shortCommit is the commit as git abbreviates it in a table (12 hex digits).
func shortCommit(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}
