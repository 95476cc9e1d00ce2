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
	switch {
	case len(args) >= 1 && args[0] == "failures":
		return failuresCmd(ctx, args[1:], stdout, stderr)
	case len(args) >= 1 && args[0] == "history":
		return historyCmd(ctx, args[1:], stdout, stderr)
	case len(args) >= 2 && (args[0] == "pipeline" || args[0] == "p") && args[1] == "start":
		args = args[2:]
	case len(args) >= 1 && args[0] == "start":
		args = args[1:]
	}
	return startCmd(ctx, args, stdout, stderr)
}

// startFlags are the flags of tkn-local pipeline start.
type startFlags struct {
	params, workspaces                                          multi
	file, root, bin, kubeconfig, mountKubeconfig, workdir, name string
	showlog                                                     bool
}

func (f *startFlags) register(fs *flag.FlagSet) {
	fs.Var(&f.params, "p", "a param, name=value (repeatable)")
	fs.Var(&f.params, "param", "same as -p")
	fs.Var(&f.workspaces, "w", "a workspace: name=<ws>,secret=<dir> | name=<ws>,dir=<dir> | name=<ws>,emptyDir= (repeatable)")
	fs.Var(&f.workspaces, "workspace", "same as -w")
	fs.StringVar(&f.file, "f", "", "the Pipeline's YAML file (instead of a Pipeline name)")
	fs.StringVar(&f.root, "repo", ".", "repository root: where stepactions/, tasks/ and pipelines/ are")
	fs.StringVar(&f.bin, "bin", "", "folder of the step binaries (default <repo>/bin)")
	fs.StringVar(&f.kubeconfig, "kubeconfig", "", "kubeconfig passed to the steps as KUBECONFIG (default: $KUBECONFIG)")
	fs.StringVar(&f.mountKubeconfig, "mount-kubeconfig", "", "kubeconfig that reads the Secrets and ConfigMaps the Tasks mount, as the kubelet does with its own credentials (default: --kubeconfig)")
	fs.BoolVar(&f.showlog, "showlog", true, "print the steps' output")
	fs.StringVar(&f.workdir, "workdir", "", "folder for the TaskRuns' files (default: a new temporary folder)")
	fs.StringVar(&f.name, "prefix-name", "", "prefix of the PipelineRun name, to which a random suffix is added as tkn does (default <pipeline>-local-<time>)")
}

// errUsage: the command line names no Pipeline.
var errUsage = errors.New("no Pipeline named")

func startCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("tkn-local pipeline start", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f startFlags
	f.register(fs)
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
	opts, err := f.options(ctx, positional, stdout)
	if errors.Is(err, errUsage) {
		fs.Usage()
		return 2
	}
	var out *runner.Outcome
	if err == nil {
		out, err = runner.Run(ctx, opts)
	}
	switch {
	case err != nil:
		fmt.Fprintln(stderr, "✗", err)
		return 2
	case out.Rejected():
		return 2 // a param was not valid: nothing was attempted
	case !out.Succeeded():
		return 1
	}
	return 0
}

// options loads and validates the repository and turns the command line into the runner's
// options.
func (f *startFlags) options(ctx context.Context, positional []string, stdout io.Writer) (runner.Options, error) {
	repo, err := tekton.Load(f.root)
	if err != nil {
		return runner.Options{}, err
	}
	if err := repo.Validate(ctx); err != nil {
		return runner.Options{}, err
	}
	p, err := f.pipeline(repo, positional)
	if err != nil {
		return runner.Options{}, err
	}
	prName, err := runName(f.name, p.Name, time.Now())
	if err != nil {
		return runner.Options{}, err
	}
	opts := runner.Options{Repo: repo, Pipeline: p, Kubeconfig: f.kubeconfig, MountKubeconfig: f.mountKubeconfig, BinDir: f.bin, WorkDir: f.workdir, Name: prName, Out: stdout, ShowLog: f.showlog, Workspaces: map[string]runner.Workspace{}}
	if opts.BinDir == "" {
		opts.BinDir = filepath.Join(f.root, "bin")
	}
	for _, kv := range f.params {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return runner.Options{}, fmt.Errorf("-p %q: want name=value", kv)
		}
		opts.Params = append(opts.Params, v1.Param{Name: k, Value: *v1.NewStructuredValues(v)})
	}
	for _, spec := range f.workspaces {
		n, w, err := parseWorkspace(spec)
		if err != nil {
			return runner.Options{}, err
		}
		opts.Workspaces[n] = w
	}
	return opts, nil
}

// pipeline is the Pipeline of -f, else the one of the repository named on the command line.
func (f *startFlags) pipeline(repo *tekton.Repo, positional []string) (*v1.Pipeline, error) {
	switch {
	case f.file != "":
		return readPipeline(f.file)
	case len(positional) == 1:
		if p, ok := repo.Pipelines[positional[0]]; ok {
			return p, nil
		}
		return nil, fmt.Errorf("%w %q in %s (have: %s)", tekton.ErrNoPipeline, positional[0], filepath.Join(f.root, "pipelines"), strings.Join(tekton.Names(repo.Pipelines), ", "))
	}
	return nil, errUsage
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
