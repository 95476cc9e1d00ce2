// Package step is the runtime every step binary shares: configuration from the environment (and
// the same settings as flags), results written the way Tekton reads them, human or JSON output,
// cancellation on SIGTERM, and one exit path that explains failures through the known-failure
// catalog.
package step

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/release-to-prod/release-to-prod/pkg/step/failure"
)

// Exit codes.
const (
	ExitOK      = 0
	ExitFailed  = 1 // the step ran and failed (a gate blocked, a call failed)
	ExitBadArgs = 2 // the configuration is invalid; nothing was attempted
	// ExitNotPermitted: the Kubernetes API server refused the step's ServiceAccount a right
	// (failure.NotPermitted). The exit code is what Tekton records of a step that continued
	// (onError: continue), so the report tells a missing RoleBinding from a gate that blocked.
	ExitNotPermitted = 3
	// ExitMayBeInProduction: a Release did not succeed but its content may be in production
	// (outcome.Doubtful); a person must check it before anything is released again.
	ExitMayBeInProduction = 4
)

// Common holds the settings every step has. Embed it in a step's config struct.
type Common struct {
	ResultsDir string `env:"RESULTS_DIR, default=/tekton/results" desc:"directory the results are written to"`
	LogFormat  string `env:"LOG_FORMAT, default=text" desc:"output format: text or json"`
	// The Pipeline sets it from the number of containers in the step's pod: the kubelet keeps
	// at most 12288 bytes of termination messages per pod, split between its containers.
	ResultsBudget int `env:"RESULTS_BUDGET, default=4096" desc:"bytes of results this step may write (its share of the pod's termination messages)"`
	// KnowledgeFile is how the team's learned fixes reach every step of a pod (see
	// knowledge.go): check-known-issues writes it, every step reads it when it fails.
	KnowledgeFile string `env:"KNOWLEDGE_FILE" desc:"team knowledge file written by check-known-issues earlier in the pod; when set, a failure is also matched against the team's learned fixes; empty: the built-in catalog only"`
}

func (c *Common) common() *Common { return c }

// Configurable is a config struct that embeds Common.
type Configurable interface{ common() *Common }

// Func is a step's body.
type Func[C any] func(ctx context.Context, s *Step, cfg C) error

// Main runs a step binary: it loads cfg from the environment and os.Args, runs fn with a context
// cancelled on SIGTERM/SIGINT, and exits with the step's status. main functions call only this.
func Main[C Configurable](name string, cfg C, fn Func[C]) {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	code := Run(ctx, name, os.Args[1:], os.Stdout, cfg, fn)
	stop()
	os.Exit(code)
}

// Run is Main without the process: it returns the exit code. Tests call it.
func Run[C Configurable](ctx context.Context, name string, args []string, out io.Writer, cfg C, fn Func[C]) int {
	s := &Step{Name: name, out: NewSafeWriter(out)}
	if err := Load(ctx, name, args, cfg); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			Usage(out, name, cfg)
			return ExitOK
		}
		s.format = formatFromArgs(args)
		s.fail(fmt.Errorf("configuration: %w", err), true)
		return ExitBadArgs
	}
	c := cfg.common()
	s.format = c.LogFormat
	// Cleaned lexically: a Task passes "$(step.results.X.path)/..", which names the step's
	// results folder only once the last two elements cancel out.
	s.results = NewResults(filepath.Clean(c.ResultsDir))
	if c.ResultsBudget > 0 {
		s.results.budget = min(c.ResultsBudget, TerminationBudget)
	}
	if r, ok := any(cfg).(InvalidReporter); ok {
		if err := Check(cfg); err != nil {
			a := s.fail(fmt.Errorf("configuration: %w", err), true)
			if werr := s.Result(r.InvalidResult(), Clip(oneLine(err.Error()), s.results.budget/2)); werr != nil {
				s.Warn("could not write result %s: %v", r.InvalidResult(), werr)
			}
			s.writeAdvice(a)
			return ExitBadArgs
		}
	}
	s.knowledgeFile = c.KnowledgeFile
	if err := fn(ctx, s, cfg); err != nil {
		s.writeAdvice(s.fail(err, false))
		return exitCode(err)
	}
	return ExitOK
}

// ResultsBudget is the number of bytes the step's results may take.
func (s *Step) ResultsBudget() int {
	if s.results == nil {
		return TerminationBudget
	}
	return s.results.budget
}

// InvalidReporter is a config whose step applies the `check` rules of its settings (Check) and
// describes what is not valid in a result, so that what reads the TaskRun afterwards can tell
// why it stopped: the check-input step. The other steps keep their own checks, and messages.
type InvalidReporter interface{ InvalidResult() ResultName }

func exitCode(err error) int {
	var fe *failure.Error
	if errors.As(err, &fe) {
		switch fe.ID {
		case failure.InvalidInput, failure.MountMissing:
			return ExitBadArgs
		case failure.NotPermitted:
			return ExitNotPermitted
		case failure.ReleaseMayBeInProduction:
			return ExitMayBeInProduction
		}
	}
	return ExitFailed
}

// formatFromArgs finds --log-format before the config could be parsed, so that even a config
// error comes out in the requested format.
func formatFromArgs(args []string) string {
	for i, a := range args {
		switch {
		case a == "--log-format=json" || a == "-log-format=json":
			return "json"
		case (a == "--log-format" || a == "-log-format") && i+1 < len(args) && args[i+1] == "json":
			return "json"
		}
	}
	if os.Getenv("LOG_FORMAT") == "json" {
		return "json"
	}
	return "text"
}
