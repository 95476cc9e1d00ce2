// Command tkn-local runs a Pipeline of this repository on this machine, steps as local
// processes, with Tekton's own scheduling and substitution code (see package runner). Its flags
// follow `tkn pipeline start`:
//
//	tkn-local pipeline start release-to-prod -p commit_sha=<sha> \
//	    -w name=app-interface,dir=../app-interface --kubeconfig ~/.kube/config
//
// It exits 0 when the PipelineRun succeeds, 1 when it fails, 2 when it cannot run.
//
// `tkn-local failures list` and `tkn-local failures teach <fingerprint> --cause … --fix …` read
// the failures nobody explained from the release history and teach the team knowledge store
// their cause and fix (see failures.go). `tkn-local history <component>` shows the release runs
// of a component from every store the history is kept in (see history.go).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"

	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	"github.com/tektoncd/pipeline/pkg/names"

	"github.com/release-to-prod/release-to-prod/pkg/build/tekton"
	"github.com/release-to-prod/release-to-prod/pkg/localrun/runner"
	"github.com/release-to-prod/release-to-prod/pkg/step"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

type multi []string

func (m *multi) String() string     { return strings.Join(*m, " ") }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	// What tkn-local prints holds outside text (the steps' output, the history, the store,
	// the API server's errors): escaped, as the steps' own output is.
	stdout, stderr = step.NewSafeWriter(stdout), step.NewSafeWriter(stderr)
	if len(args) >= 1 && args[0] == "failures" {
		return failuresCmd(ctx, args[1:], stdout, stderr)
	}
	if len(args) >= 1 && args[0] == "history" {
		return historyCmd(ctx, args[1:], stdout, stderr)
	}
	if len(args) >= 2 && (args[0] == "pipeline" || args[0] == "p") && args[1] == "start" {
		args = args[2:]
	} else if len(args) >= 1 && args[0] == "start" {
		args = args[1:]
	}
	fs := flag.NewFlagSet("tkn-local pipeline start", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var params, workspaces multi
	fs.Var(&params, "p", "a param, name=value (repeatable)")
	fs.Var(&params, "param", "same as -p")
	fs.Var(&workspaces, "w", "a workspace: name=<ws>,secret=<dir> | name=<ws>,dir=<dir> | name=<ws>,emptyDir= (repeatable)")
	fs.Var(&workspaces, "workspace", "same as -w")
	file := fs.String("f", "", "the Pipeline's YAML file (instead of a Pipeline name)")
	root := fs.String("repo", ".", "repository root: where stepactions/, tasks/ and pipelines/ are")
	bin := fs.String("bin", "", "folder of the step binaries (default <repo>/bin)")
	kubeconfig := fs.String("kubeconfig", "", "kubeconfig passed to the steps as KUBECONFIG (default: $KUBECONFIG)")
	mountKubeconfig := fs.String("mount-kubeconfig", "", "kubeconfig that reads the Secrets and ConfigMaps the Tasks mount, as the kubelet does with its own credentials (default: --kubeconfig)")
	showlog := fs.Bool("showlog", true, "print the steps' output")
	workdir := fs.String("workdir", "", "folder for the TaskRuns' files (default: a new temporary folder)")
	name := fs.String("prefix-name", "", "prefix of the PipelineRun name, to which a random suffix is added as tkn does (default <pipeline>-local-<time>)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: tkn-local pipeline start <pipeline-name> [-f file] [-p name=value]... [-w name=…,secret=…|dir=…|emptyDir=]... [--kubeconfig file]")
		fs.PrintDefaults()
	}
	// Flags may follow the pipeline name, as with tkn.
	positional, err := parseInterleaved(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	fail := func(err error) int {
		fmt.Fprintln(stderr, "✗", err)
		return 2
	}
	repo, err := tekton.Load(*root)
	if err != nil {
		return fail(err)
	}
	if err := repo.Validate(ctx); err != nil {
		return fail(err)
	}
	var p *v1.Pipeline
	switch {
	case *file != "":
		obj, err := readPipeline(*file)
		if err != nil {
			return fail(err)
		}
		p = obj
	case len(positional) == 1:
		var ok bool
		if p, ok = repo.Pipelines[positional[0]]; !ok {
			return fail(fmt.Errorf("%w %q in %s (have: %s)", tekton.ErrNoPipeline, positional[0], filepath.Join(*root, "pipelines"), strings.Join(tekton.Names(repo.Pipelines), ", ")))
		}
	default:
		fs.Usage()
		return 2
	}
	prName, err := runName(*name, p.Name, time.Now())
	if err != nil {
		return fail(err)
	}
	opts := runner.Options{Repo: repo, Pipeline: p, Kubeconfig: *kubeconfig, MountKubeconfig: *mountKubeconfig, BinDir: *bin, WorkDir: *workdir, Name: prName, Out: stdout, ShowLog: *showlog, Workspaces: map[string]runner.Workspace{}}
	if opts.BinDir == "" {
		opts.BinDir = filepath.Join(*root, "bin")
	}
	for _, kv := range params {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return fail(fmt.Errorf("-p %q: want name=value", kv))
		}
		opts.Params = append(opts.Params, v1.Param{Name: k, Value: *v1.NewStructuredValues(v)})
	}
	for _, spec := range workspaces {
		n, w, err := parseWorkspace(spec)
		if err != nil {
			return fail(err)
		}
		opts.Workspaces[n] = w
	}
	out, err := runner.Run(ctx, opts)
	if err != nil {
		return fail(err)
	}
	switch {
	case out.Rejected():
		return 2 // a param was not valid: nothing was attempted
	case !out.Succeeded():
		return 1
	}
	return 0
}

func readPipeline(path string) (*v1.Pipeline, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	obj, err := tekton.Decode(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	p, ok := obj.(*v1.Pipeline)
	if !ok {
		return nil, fmt.Errorf("%s: not a Pipeline", path)
	}
	return p, nil
}

// parseWorkspace parses a -w value the way tkn does: comma-separated key=value pairs with
// name=, and one of secret=, dir= (a local folder; tkn's claimName=) or emptyDir=.
func parseWorkspace(s string) (string, runner.Workspace, error) {
	var name string
	var w runner.Workspace
	for _, part := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			return "", w, fmt.Errorf("-w %q: %q is not key=value", s, part)
		}
		switch k {
		case "name":
			name = v
		case "secret", "dir":
			w = runner.Workspace{Kind: k, Path: v}
		case "emptyDir":
			w = runner.Workspace{Kind: "emptyDir"}
		default:
			return "", w, fmt.Errorf("-w %q: unknown key %q (name, secret, dir, emptyDir)", s, k)
		}
	}
	if name == "" || w.Kind == "" {
		return "", w, fmt.Errorf("-w %q: want name=<ws> and one of secret=<dir>, dir=<dir>, emptyDir=", s)
	}
	return name, w, nil
}

// runName is the PipelineRun's name: the prefix (default <pipeline>-local-<time>) with the random
// suffix tkn and Tekton add to a generateName (names.SimpleNameGenerator), so that two runs
// started in the same second get distinct names in the release history.
//
// A prefix given must make a valid name: the PipelineRun's name is a label value on its TaskRuns,
// a name in the release history and part of file names, and Kubernetes would refuse it.
func runName(prefix, pipeline string, now time.Time) (string, error) {
	if prefix == "" {
		prefix = pipeline + "-local-" + now.Format("150405")
	} else if !namePrefix.MatchString(prefix) {
		return "", fmt.Errorf("--prefix-name %q is not a valid name prefix: use lower-case letters, digits and '-', starting with a letter or digit (as Kubernetes names: my-release-)", prefix)
	}
	return names.SimpleNameGenerator.RestrictLengthWithRandomSuffix(strings.TrimSuffix(prefix, "-")), nil
}

// namePrefix is the start of a DNS-1123 label, which may end with '-' (tkn's --prefix-name
// is given as "my-run-"); RestrictLengthWithRandomSuffix cuts it to length.
var namePrefix = regexp.MustCompile(`^[a-z0-9][-a-z0-9]*$`)

// parseInterleaved parses fs from args where flags may follow positional arguments, as with
// tkn (`pipeline start <name> -p …`), and returns the positional ones in order.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return positional, nil
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
}
