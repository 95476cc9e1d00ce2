package notify

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/release-to-prod/release-to-prod/pkg/clients/httpclient"
	"github.com/release-to-prod/release-to-prod/pkg/step"
	"github.com/release-to-prod/release-to-prod/pkg/step/commit"
	"github.com/release-to-prod/release-to-prod/pkg/step/failure"
	"github.com/release-to-prod/release-to-prod/pkg/step/outcome"
)

// Config is the notify step's configuration. The flags (DRY_RUN, FAIL_ON_ERROR, TIMEOUT) are
// strings read leniently: a typo in a notification setting must not fail a release pipeline.
type Config struct {
	step.Common
	// Not step.Subject: its COMMIT_SHA is required, and a notification goes out whatever the
	// run was given (a rejected run's SHA may be anything, or nothing).
	step.Target
	CommitSHA      string `env:"COMMIT_SHA" desc:"full 40-character SHA of the commit to release (lowercase hex; short SHAs never exist as image tags)"`
	WebhookURLFile string `env:"WEBHOOK_URL_FILE" desc:"file holding the Slack incoming-webhook URL (a Task sets it to the slack_webhook_key of the mounted slack_webhook_secret); empty: skip the notification"`
	WebhookSecret  string `param:"slack_webhook_secret" env:"WEBHOOK_SECRET, default=release-to-prod-slack-webhook" desc:"Secret with the Slack incoming-webhook URL under slack_webhook_key; absent under this default name: no notification"`
	Status         string `param:"pipeline_status" env:"STATUS" desc:"the pipeline's $(tasks.status): Succeeded, Failed, Completed or None"`
	DryRun         string `env:"DRY_RUN, default=false" desc:"true runs every gate and prints the Release it would create, without creating it"`
	ReleaseStatus  string `env:"RELEASE_STATUS" desc:"the run's RELEASE_STATUS (record-history's, else create-release's): Succeeded, Failed, TimedOut, DryRun, AlreadyReleased, Created, Blocked or Running; empty when neither ran"`
	ReleaseName    string `env:"RELEASE_NAME" desc:"name of the Konflux Release created or found; empty when none"`
	CommitURL      string `env:"COMMIT_URL" desc:"URL of the commit, linked from the SHA; empty: no link"`
	ImageDigest    string `env:"PINNED_DIGEST" desc:"digest of the staging image (sha256:…) that check-image pinned, the index digest for a multi-arch image"`
	GateSummary    string `env:"GATE_SUMMARY" desc:"short summary of the gates, e.g. \"image ✓, konflux ✓, alerts ✗\""`
	FailureCause   string `env:"FAILURE_CAUSE" desc:"likely cause of a failure, shown in failure messages"`
	FailureFix     string `env:"FAILURE_FIX" desc:"fix for a failure, shown in failure messages"`
	KnownIssues    string `env:"KNOWN_ISSUES" desc:"the team's active known issues, one per line (check-known-issues' KNOWN_ISSUES), shown in the message"`
	PipelineRunURL string `env:"PIPELINERUN_URL" desc:"URL of the PipelineRun (console or dashboard), linked from the message"`
	RecordNote     string `env:"RECORD_NOTE" desc:"what went wrong recording the run (record-history's RECORD_NOTE), shown in the message; empty: recorded"`
	// The Pipeline sets it to $(steps.step-record-history.exitCode.path): record-history runs
	// with onError: continue so that this step always runs, and this step then fails the
	// report when it failed, after telling Slack.
	RecordExitCodeFile string `param:"-" env:"RECORD_EXIT_CODE_FILE" desc:"exit code file of the record-history step of the same pod; empty: none"`
	FailOnError        string `env:"FAIL_ON_ERROR, default=false" desc:"true: a notification that cannot be sent fails the step (default: a warning)"`
	Timeout            string `param:"-" env:"TIMEOUT, default=60s" desc:"time allowed for the delivery, retries included (each attempt at most 10s)"`
}

// ResultNotified says whether Slack took the message (NotifiedTrue, NotifiedFalse,
// NotifiedSkipped).
const ResultNotified step.ResultName = "NOTIFIED"

// Result values of NOTIFIED.
const (
	NotifiedTrue    = "true"
	NotifiedFalse   = "false"
	NotifiedSkipped = "skipped"
)

const maxAttempt = 10 * time.Second

// Run is the notify step: it builds the message for the pipeline's outcome and posts it.
// A message that cannot be sent is a warning and the step passes, unless FAIL_ON_ERROR is true:
// the release has happened (or not) whatever Slack says, and a pipeline that released must not
// show as failed because a chat service was down.
func Run(ctx context.Context, s *step.Step, cfg *Config) error {
	recordErr := recordFailure(s, cfg)
	if err := notify(ctx, s, cfg, recordErr != nil); err != nil {
		return errors.Join(err, recordErr)
	}
	return recordErr
}

// unresolved is how a value from a step result reaches this step when that step did not write
// it: Tekton's entrypoint leaves the reference as it was.
func unresolved(v string) bool { return strings.HasPrefix(strings.TrimSpace(v), "$(steps.") }

// recordFailure reads what record-history left: its results may be missing (they are then
// unresolved references, taken as empty) and its exit code says whether it failed.
func recordFailure(s *step.Step, cfg *Config) error {
	for _, f := range []*string{&cfg.ReleaseStatus, &cfg.ReleaseName, &cfg.GateSummary, &cfg.ImageDigest,
		&cfg.FailureCause, &cfg.FailureFix, &cfg.KnownIssues, &cfg.RecordNote} {
		if unresolved(*f) {
			*f = ""
		}
	}
	if strings.TrimSpace(cfg.RecordExitCodeFile) == "" {
		return nil
	}
	b, err := os.ReadFile(cfg.RecordExitCodeFile)
	if err != nil {
		s.Warn("reading record-history's exit code: %v", err)
		return nil
	}
	code := strings.TrimSpace(string(b))
	if code == "0" || code == "" {
		return nil
	}
	if cfg.RecordNote == "" {
		cfg.RecordNote = "record-history failed (exit " + clip(code, 10) + "): see the report TaskRun's log"
	}
	return errors.New("record-history failed (exit " + clip(code, 10) + "): the run's report is incomplete, see its log")
}

func notify(ctx context.Context, s *step.Step, cfg *Config, recordFailed bool) error {
	dryRun := lenientBool(s, "DRY_RUN", cfg.DryRun)
	failOnError := lenientBool(s, "FAIL_ON_ERROR", cfg.FailOnError)
	timeout, err := time.ParseDuration(strings.TrimSpace(cfg.Timeout))
	if err != nil || timeout <= 0 {
		s.Warn("TIMEOUT %q is not a positive duration (like 60s): using 60s", clip(cfg.Timeout, 20))
		timeout = 60 * time.Second
	}
	err = send(ctx, s, cfg, recordFailed, dryRun, timeout)
	var ns *notSent
	if !errors.As(err, &ns) {
		return err
	}
	s.Warn("notification not sent: %s", ns.err)
	s.Info("likely cause: %s", ns.cause)
	s.Info("fix: %s", ns.fix)
	if rerr := s.Result(ResultNotified, NotifiedFalse); rerr != nil {
		return rerr
	}
	if failOnError {
		return errors.New("notification not sent and FAIL_ON_ERROR is true: " + ns.err.Error())
	}
	return nil
}

// notSent is a notification that could not be sent, with the likely cause and the fix.
type notSent struct {
	err        error
	cause, fix string
}

func (e *notSent) Error() string { return e.err.Error() }
func (e *notSent) Unwrap() error { return e.err }

// notSentBy explains err: a DeliveryError's own cause and fix win over the caller's.
func notSentBy(err error, cause, fix string) *notSent {
	var de *DeliveryError
	if errors.As(err, &de) {
		cause, fix = de.Cause, de.Fix
	}
	return &notSent{err: err, cause: cause, fix: fix}
}

// send posts the message for the run's outcome; Slack not configured is a skip.
func send(ctx context.Context, s *step.Step, cfg *Config, recordFailed, dryRun bool, timeout time.Duration) error {
	hook, err := webhook(s, cfg, timeout)
	if err != nil || hook == nil {
		return err
	}
	msg, result := message(s, cfg, recordFailed, dryRun)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := hook.Post(ctx, msg); err != nil {
		return notSentBy(err, "", "")
	}
	s.OK("notification sent to Slack (%s): %s", hook.Host(), result)
	return s.Result(ResultNotified, NotifiedTrue)
}

// webhook reads the incoming webhook from the mounted Secret; nil, after saying so, when Slack
// is not configured.
func webhook(s *step.Step, cfg *Config, timeout time.Duration) (*Webhook, error) {
	if strings.TrimSpace(cfg.WebhookURLFile) == "" {
		return nil, skip(s, "not configured (no WEBHOOK_URL_FILE)")
	}
	// The report pod gets slack_webhook_key only as the end of WEBHOOK_URL_FILE; check-input
	// checks it in the preflight, but the report runs when the preflight rejected the run, and
	// must not read another file than a key of the Secret (or skip in silence).
	if err := checkKeyFile(cfg.WebhookURLFile); err != nil {
		return nil, notSentBy(err, "slack_webhook_key is not a valid Secret key, so the webhook URL cannot be read",
			"set slack_webhook_key to the key of the slack_webhook_secret Secret that holds the URL (default url), then re-run")
	}
	// The report mounts the Secret optionally, so that it always runs: absent under its
	// default name, Slack is not configured; a Secret the user named that is absent, or without
	// the key, is said here (and in the log) with the fix, while the history has the run.
	hookSecret := step.MountOf(cfg, "Secret", "WEBHOOK_SECRET", cfg.WebhookSecret, cfg.WebhookURLFile).WithKeyParam("slack_webhook_key")
	hookFile, err := hookSecret.Resolve()
	if err != nil {
		a, _ := failure.Explain(err)
		return nil, notSentBy(err, a.Cause, a.Fix)
	}
	if hookFile == "" {
		return nil, skip(s, hookSecret.NotConfigured())
	}
	badSecretCause := hookSecret.Where() + " does not hold a usable incoming-webhook URL"
	const badSecretFix = "put the webhook URL (https://hooks.slack.com/services/…) alone in the secret's key; see the Task's README"
	rawURL, err := httpclient.ReadSecret(hookFile)
	if err != nil {
		return nil, notSentBy(err, badSecretCause, badSecretFix)
	}
	hook, err := NewWebhook(rawURL, WebhookOptions{Timeout: min(maxAttempt, timeout)})
	if err != nil {
		return nil, notSentBy(err, badSecretCause, badSecretFix)
	}
	return hook, nil
}

// message is the message for the run's outcome, with warnings about values it shows as given.
func message(s *step.Step, cfg *Config, recordFailed, dryRun bool) (Message, outcome.Outcome) {
	result, note := outcome.Decide(cfg.Status, cfg.ReleaseStatus, dryRun)
	if recordFailed && strings.TrimSpace(cfg.ReleaseStatus) == "" {
		// The pipeline's status alone would say "blocked" for any failed task: what the run
		// amounted to is not known, and the message says so rather than guess.
		result, note = outcome.NotReleased, "the report could not work out how the run ended"
	}
	if note != "" {
		s.Info("status: %s", note)
	}
	if strings.TrimSpace(cfg.CommitSHA) != "" {
		if _, err := commit.ParseSHA(cfg.CommitSHA); err != nil {
			s.Warn("COMMIT_SHA: %v; the message shows it as given", err)
		}
	}
	for _, u := range []struct{ name, value string }{{"COMMIT_URL", cfg.CommitURL}, {"PIPELINERUN_URL", cfg.PipelineRunURL}} {
		if strings.TrimSpace(u.value) != "" {
			if _, ok := linkURL(u.value); !ok {
				s.Warn("%s is not an http(s) URL: the message shows no link", u.name)
			}
		}
	}
	msg := Build(Notification{
		Outcome: result, Note: note, ReleaseStatus: cfg.ReleaseStatus,
		Component: cfg.Component, Application: cfg.Application, Namespace: cfg.Namespace,
		Release: cfg.ReleaseName, CommitSHA: cfg.CommitSHA, CommitURL: cfg.CommitURL,
		ImageDigest: cfg.ImageDigest, GateSummary: cfg.GateSummary,
		FailureCause: cfg.FailureCause, FailureFix: cfg.FailureFix, PipelineRunURL: cfg.PipelineRunURL,
		KnownIssues: cfg.KnownIssues, Record: cfg.RecordNote,
	})
	if err := msg.Validate(); err != nil {
		// Cannot happen (Build bounds every value); if it does, the fallback text still informs.
		s.Warn("message over Slack's limits (%v): sending the text alone", err)
		msg = Message{Text: msg.Text}
	}
	return msg, result
}

// checkKeyFile checks the Secret key at the end of file (<workspace path>/<slack_webhook_key>)
// with the rule check-input applies to the param: a key that is empty, "." or "..", climbs out
// of the workspace or holds other characters than letters, digits, '-', '_' and '.' is refused.
func checkKeyFile(file string) error {
	parts := strings.Split(file, "/")
	if slices.Contains(parts, "..") {
		return fmt.Errorf("slack_webhook_key: WEBHOOK_URL_FILE %.200q climbs out of its folder (\"..\")", file)
	}
	if err := step.CheckValue("key", parts[len(parts)-1]); err != nil {
		return fmt.Errorf("slack_webhook_key: %w", err)
	}
	return nil
}

func skip(s *step.Step, why string) error {
	s.Skip("notification skipped: Slack webhook %s", why)
	return s.Result(ResultNotified, NotifiedSkipped)
}

// lenientBool reads a true/false setting; anything else is false, with a warning.
func lenientBool(s *step.Step, name, v string) bool {
	v = strings.TrimSpace(v)
	if v == "" {
		return false
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		s.Warn("%s %q is not true or false: taken as false", name, clip(v, 20))
		return false
	}
	return b
}
