// Package appinterface is the app-interface gate: it validates the SaaS file
// (`$schema: /app-sre/saas-file-2.yml`) that deploys the component, in an app-interface checkout,
// against the commit about to be released.
//
// The production target must deploy exactly this commit, must not be disabled or deleted, and
// the commit must not be in the app's blockedVersions; beyond that the file and the files it
// references must be well formed enough for app-interface to act on them. Every problem is
// collected, with its file and line, so that one run lists everything to fix; app-interface's own
// schema validation stays the authority on the rest of the schema.
package appinterface

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/release-to-prod/release-to-prod/pkg/step"
	"github.com/release-to-prod/release-to-prod/pkg/step/commit"
	"github.com/release-to-prod/release-to-prod/pkg/step/failure"
)

// Config is the step's configuration.
type Config struct {
	step.Common
	step.Commit
	SaasFile    string `check:"relpath" env:"SAAS_FILE, required" desc:"path of the SaaS file relative to the checkout, e.g. data/services/<app>/cicd/saas.yml"`
	CheckoutDir string `env:"CHECKOUT_DIR, required" desc:"the app-interface checkout (or a folder holding just the SaaS file)"`
	Target      string `param:"app_interface_target" env:"TARGET" desc:"the production target: target name, namespace $ref or namespace name (default: targets whose environment is production)"`
	Skip        string `param:"skip_app_interface" check:"bool" env:"SKIP, default=false" desc:"true to skip the app-interface gate explicitly (it passes and says so)"`
}

// Result names.
const (
	ResultSaasFile       step.ResultName = "SAAS_FILE"
	ResultTargetsChecked step.ResultName = "TARGETS_CHECKED"
)

// maxListed bounds the ✗ lines: past it, the file is broken wholesale and more lines do not help.
const maxListed = 100

// targetsBudget bounds the TARGETS_CHECKED result: the whole TaskRun shares 4 KiB of results.
const targetsBudget = 512

// Run is the step body.
func Run(_ context.Context, s *step.Step, cfg *Config) error {
	skip, err := step.ParseBool("SKIP", cfg.Skip, false)
	if err != nil {
		return err
	}
	if skip {
		s.Skip("app-interface check skipped (skip=true)")
		return writeResults(s, cfg.SaasFile, "skipped")
	}
	sha, err := commit.ParseSHA(cfg.CommitSHA)
	if err != nil {
		return failure.Wrap(failure.InvalidInput, nil, fmt.Errorf("COMMIT_SHA: %w", err))
	}
	rel, err := CleanRelative(cfg.SaasFile)
	if err != nil {
		return failure.Wrap(failure.InvalidInput, nil, fmt.Errorf("SAAS_FILE: %w", err))
	}
	if st, err := os.Stat(cfg.CheckoutDir); err != nil || !st.IsDir() {
		return failure.New(failure.InvalidInput, nil, "CHECKOUT_DIR %q is not a directory: is the app-interface workspace bound and populated?", cfg.CheckoutDir)
	}
	c, err := OpenCheckout(cfg.CheckoutDir)
	if err != nil {
		return failure.Wrap(failure.InvalidInput, nil, fmt.Errorf("CHECKOUT_DIR: %w", err))
	}
	defer c.Close()

	rep, err := Validate(c, rel, Options{CommitSHA: sha, Target: strings.TrimSpace(cfg.Target)})
	if err != nil {
		return failure.Wrap(failure.InvalidInput, nil, fmt.Errorf("SAAS_FILE: %w", err))
	}
	for _, w := range rep.Warnings {
		s.Warn("%s", w)
	}
	for _, t := range rep.Checked {
		if t.Ref == sha {
			s.OK("%s deploys %s to production target %s (%s)", rel, sha, t.Label(), t.Why)
		}
	}
	for i, p := range rep.Problems {
		if i == maxListed {
			s.Fail("… and %d more problem(s)", len(rep.Problems)-maxListed)
			break
		}
		s.Fail("%s", p)
	}
	if err := summary(rep, sha); err != nil {
		return err
	}
	s.OK("SaaS file %s (%s) valid: %d target(s), %d production, all at %s", rel, rep.Name, len(rep.Targets), len(rep.Checked), sha)
	labels := make([]string, len(rep.Checked))
	for i, t := range rep.Checked {
		labels[i] = t.Label()
	}
	return writeResults(s, rel, TargetsList(labels, targetsBudget))
}

// summary is the one error for all problems: the specific known failure when they are all of
// one kind (the usual case: the promotion MR is not merged yet), saas-invalid otherwise.
func summary(rep *Report, sha string) error {
	n := len(rep.Problems)
	if n == 0 {
		return nil
	}
	first := rep.Problems[0]
	switch {
	case rep.Count(RefMismatch) == n:
		return failure.New(failure.SaasRefMismatch,
			map[string]string{"saas_file": rep.SaasFile, "target": first.Target, "got": first.Got, "want": sha},
			"%d production target(s) of %s not at %s (%s has %s)", n, rep.SaasFile, sha, first.Target, first.Got)
	case rep.Count(BlockedVersion) == n:
		return failure.New(failure.SaasBlockedVersion, map[string]string{"sha": sha, "app_file": first.File},
			"commit %s is blocked in %s", sha, first.File)
	}
	return failure.New(failure.SaasInvalid, map[string]string{"count": strconv.Itoa(n), "saas_file": rep.SaasFile},
		"%d problem(s) in %s", n, rep.SaasFile)
}

func writeResults(s *step.Step, saasFile, targets string) error {
	if err := s.Result(ResultSaasFile, saasFile); err != nil {
		return err
	}
	return s.Result(ResultTargetsChecked, targets)
}

// TargetsList joins labels with commas within budget bytes; labels that do not fit are counted:
// "a@x,b@y,+3 more".
func TargetsList(labels []string, budget int) string {
	if all := strings.Join(labels, ","); len(all) <= budget {
		return all
	}
	var b strings.Builder
	for i, l := range labels {
		more := ""
		if rest := len(labels) - i - 1; rest > 0 {
			more = fmt.Sprintf(",+%d more", rest)
		}
		sep := ""
		if i > 0 {
			sep = ","
		}
		// Keep room for the "+N more" tail in case a later label does not fit.
		if b.Len()+len(sep)+len(l)+len(more) > budget {
			if i > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, "+%d more", len(labels)-i)
			return b.String()
		}
		b.WriteString(sep)
		b.WriteString(l)
	}
	return b.String()
}
