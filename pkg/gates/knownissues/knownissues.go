// Package knownissues is the check-known-issues step, the first of the preflight pod: it reads
// the team knowledge store (package knowledge) from its ConfigMap, prints the active known
// issues, hands the store to the later steps of the pod as the KNOWLEDGE_FILE, puts the active
// issues in the KNOWN_ISSUES result for the Slack message, and blocks like a gate while an
// issue marked blocking is active.
package knownissues

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/release-to-prod/release-to-prod/pkg/clients/konflux"
	"github.com/release-to-prod/release-to-prod/pkg/step"
	"github.com/release-to-prod/release-to-prod/pkg/step/failure"
	"github.com/release-to-prod/release-to-prod/pkg/step/knowledge"
	"github.com/release-to-prod/release-to-prod/pkg/step/knowledge/store"
)

// Config is the check-known-issues step's configuration. KNOWLEDGE_FILE (step.Common) is where
// it writes the store for the later steps.
type Config struct {
	step.Common
	step.Tenant
	KnowledgeConfigMap string `check:"name" env:"KNOWLEDGE_CONFIGMAP, default=release-knowledge" desc:"ConfigMap holding the team knowledge store (known issues, learned fixes); a missing ConfigMap is an empty store; empty: no store is read"`
	konflux.Access
	Timeout time.Duration `param:"-" env:"TIMEOUT, default=30s" desc:"time limit for reading the store"`
}

// ResultKnownIssues is the step's result: the active known issues, for the notification.
const ResultKnownIssues step.ResultName = "KNOWN_ISSUES"

// MaxResult bounds the KNOWN_ISSUES result: it shares the pod's termination messages with the
// gates' results; the log has every issue whole.
const MaxResult = 600

// maxLine bounds one issue in the result.
const maxLine = 200

// maxExpiredLines bounds the expired issues named one per line; maxEntries the text naming the
// unreadable entries in the failure's cause (the log names each whole).
const (
	maxExpiredLines = 10
	maxEntries      = 600
)

// Run is the check-known-issues step.
func Run(ctx context.Context, s *step.Step, cfg *Config) error {
	return run(ctx, s, cfg, time.Now())
}

func run(ctx context.Context, s *step.Step, cfg *Config, now time.Time) error {
	name := strings.TrimSpace(cfg.KnowledgeConfigMap)
	if name == "" {
		s.Skip("no team knowledge store (KNOWLEDGE_CONFIGMAP is empty): known issues not checked, failures explained by the built-in catalog only")
		return finish(s, cfg, &knowledge.Store{Namespace: cfg.Namespace}, now)
	}
	if strings.TrimSpace(cfg.Namespace) == "" {
		return failure.New(failure.InvalidInput, nil, "NAMESPACE is empty: set the tenant namespace that holds ConfigMap %s", name)
	}
	ctx, cancel, kc, err := cfg.Connect(ctx, cfg.Namespace, cfg.Timeout)
	defer cancel()
	if err != nil {
		return err
	}
	k, warns, err := store.Read(ctx, kc.Dynamic, cfg.Namespace, name)
	if err != nil {
		// Fail closed: a blocking issue may be in the store that cannot be read. The later steps
		// still get a file naming the store, for their teach hints.
		empty := &knowledge.Store{Namespace: cfg.Namespace, ConfigMap: name}
		if werr := writeFile(s, cfg, empty); werr != nil {
			s.Warn("%v", werr)
		}
		return fmt.Errorf("%w (known issues cannot be checked; set knowledge_configmap to \"\" to run without the store)", err)
	}
	if !k.Found {
		s.Info("no team knowledge store yet (ConfigMap %s does not exist in %s): no known issues, no learned fixes", name, cfg.Namespace)
	} else {
		s.OK("read the %s: %d known issue(s), %d learned fix(es)", k.Source(), len(k.KnownIssues), len(k.LearnedFixes))
	}
	return finish(s, cfg, k, now, warns...)
}

// finish prints the warnings and the issues, writes the file and the result, and blocks on a
// blocking issue, or on a warning that could hide one (fail closed: an entry that cannot be
// read may be a release freeze).
func finish(s *step.Step, cfg *Config, k *knowledge.Store, now time.Time, warns ...knowledge.Warning) error {
	var unreadable []string
	for _, w := range warns {
		if w.MayBlock {
			s.Fail("team knowledge: %s; it may be a blocking known issue", w)
			unreadable = append(unreadable, w.String())
		} else {
			s.Warn("team knowledge: %s", w)
		}
	}
	s.SetKnowledge(k)
	if err := writeFile(s, cfg, k); err != nil {
		s.Warn("%v: the later steps explain failures with the built-in catalog only", err)
	}
	var blocking, lines []string
	expired := 0
	for _, i := range k.KnownIssues {
		if !i.Active(now) {
			// Expired entries are not bounded in number (only the store's bytes bound them):
			// the first few are named, the rest counted.
			if expired++; expired <= maxExpiredLines {
				s.Skip("known issue %s expired %s: ignored", label(i), i.ExpiresAt().UTC().Format(time.RFC3339))
			}
			continue
		}
		line := describe(i)
		lines = append(lines, line)
		if i.Blocks {
			blocking = append(blocking, line)
			s.Fail("known issue (blocks releases): %s", line)
		} else {
			s.Warn("known issue: %s", line)
		}
	}
	if expired > maxExpiredLines {
		s.Skip("%d more expired known issues ignored: remove them from the store", expired-maxExpiredLines)
	}
	if err := s.Result(ResultKnownIssues, result(lines)); err != nil {
		return err
	}
	if len(unreadable) > 0 {
		return failure.New(failure.KnownIssuesUnreadable, map[string]string{
			"entries": clipText(strings.Join(unreadable, "; "), maxEntries), "configmap": k.ConfigMap, "namespace": k.Namespace,
		}, "%d known issue(s) or key(s) of the %s cannot be read and may block releases", len(unreadable), k.Source())
	}
	if len(blocking) > 0 {
		return failure.New(failure.KnownIssueBlocks, map[string]string{
			"issues": strings.Join(blocking, "; "), "configmap": k.ConfigMap, "namespace": k.Namespace,
		}, "%d blocking known issue(s) active in the %s", len(blocking), k.Source())
	}
	if len(lines) == 0 {
		s.OK("no active known issue")
	}
	return nil
}

func writeFile(s *step.Step, cfg *Config, k *knowledge.Store) error {
	if cfg.KnowledgeFile == "" {
		return nil
	}
	if err := knowledge.WriteFile(cfg.KnowledgeFile, k); err != nil {
		return err
	}
	s.Info("team knowledge handed to the later steps in %s", cfg.KnowledgeFile)
	return nil
}

func label(i knowledge.KnownIssue) string {
	if i.ID != "" {
		return i.ID
	}
	return fmt.Sprintf("%q", clipText(i.Message, 40))
}

// describe is one issue on one line: "quay: scans delayed (until 2026-03-05T18:00:00Z)".
func describe(i knowledge.KnownIssue) string {
	line := i.Service + ": " + i.Message
	if !i.ExpiresAt().IsZero() {
		line += " (until " + i.ExpiresAt().UTC().Format(time.RFC3339) + ")"
	}
	return line
}

// result joins the issues one per line within MaxResult bytes, saying how many did not fit.
func result(lines []string) string {
	const trailer = 64 // room kept for "… and N more (see the check-known-issues log)"
	var b strings.Builder
	for n, l := range lines {
		l = clipText(l, maxLine)
		if b.Len()+1+len(l) > MaxResult-trailer {
			if n > 0 {
				b.WriteByte('\n')
			}
			fmt.Fprintf(&b, "… and %d more (see the check-known-issues log)", len(lines)-n)
			break
		}
		if n > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(l)
	}
	return b.String()
}

func clipText(s string, n int) string { return knowledge.Text(s, n) }
