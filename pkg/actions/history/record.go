package history

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/release-to-prod/release-to-prod/pkg/actions/release"
	"github.com/release-to-prod/release-to-prod/pkg/clients/konflux"
	"github.com/release-to-prod/release-to-prod/pkg/clients/taskruns"
	"github.com/release-to-prod/release-to-prod/pkg/gates/image"
	"github.com/release-to-prod/release-to-prod/pkg/gates/knownissues"
	"github.com/release-to-prod/release-to-prod/pkg/gates/verdict"
	"github.com/release-to-prod/release-to-prod/pkg/step"
	"github.com/release-to-prod/release-to-prod/pkg/step/commit"
	"github.com/release-to-prod/release-to-prod/pkg/step/failure"
	"github.com/release-to-prod/release-to-prod/pkg/step/knowledge"
	"github.com/release-to-prod/release-to-prod/pkg/step/outcome"
)

// RecordConfig is the record-history step's configuration.
type RecordConfig struct {
	step.Common
	step.Subject
	Snapshot       string `env:"SNAPSHOT" desc:"Snapshot to release (the preflight's SNAPSHOT result)"`
	ReleaseName    string `env:"RELEASE_NAME" desc:"name of the Konflux Release created or found; empty when none"`
	Status         string `env:"STATUS" desc:"outcome to record (Succeeded, Failed, TimedOut, DryRun, AlreadyReleased, Created, Blocked, Rejected, Running, Cancelled, RunTimedOut, NotPermitted, Doubtful); empty: worked out from PIPELINE_STATUS, CREATE_STATUS, DRY_RUN and the Releases"`
	PipelineStatus string `env:"PIPELINE_STATUS" desc:"the pipeline's $(tasks.status): Succeeded, Failed, Completed or None"`
	CreateStatus   string `env:"CREATE_STATUS" desc:"the create-release task's $(tasks.create-release.status) (None when skipped), when STATUS is empty"`
	DryRun         string `env:"DRY_RUN, default=false" desc:"true runs every gate and prints the Release it would create, without creating it"`
	Started        string `env:"STARTED" desc:"when the run started (RFC 3339); empty: when its first TaskRun started"`
	TaskRunsDir    string `param:"-" env:"TASKRUNS_DIR" desc:"folder of the run's TaskRuns as JSON (the local runner writes it); empty: read them from the cluster by PIPELINE_RUN"`
	PipelineRun    string `env:"PIPELINE_RUN" desc:"name of the PipelineRun, for the record"`
	Location
	HistoryLimit int `check:"count" env:"HISTORY_LIMIT, default=200" desc:"entries kept, newest first"`
	konflux.Access
	Timeout         time.Duration `param:"-" env:"TIMEOUT, default=1m" desc:"time limit for the update, retries on conflict included"`
	UnknownFailures string        `env:"UNKNOWN_FAILURES" desc:"the gate verdict's UNKNOWN_FAILURES: failures no catalog entry or learned fix explained, recorded with their fingerprints so that tkn-local failures list can show them; empty: read from the run's preflight TaskRun"`
	KnownIssues     string        `env:"KNOWN_ISSUES" desc:"the team's active known issues, one per line (check-known-issues' KNOWN_ISSUES), shown in the message"`
}

// The step's results. Besides its own (HISTORY_ENTRIES), it passes on, under the same names,
// what the run left (from its params, or the run's TaskRuns when the preflight left no
// results): notify reads them all from this one step.
const (
	ResultHistoryEntries step.ResultName = "HISTORY_ENTRIES"
	ResultReleaseStatus                  = release.ResultReleaseStatus
	ResultReleaseName                    = release.ResultReleaseName
	ResultGateSummary                    = verdict.ResultGateSummary
	ResultPinnedDigest                   = image.ResultPinnedDigest
	ResultFailureCause                   = verdict.ResultFailureCause
	ResultFailureFix                     = verdict.ResultFailureFix
	ResultKnownIssues                    = knownissues.ResultKnownIssues
	// ResultRecordNote is what went wrong recording the run (e.g. a ConfigMap write refused).
	ResultRecordNote step.ResultName = "RECORD_NOTE"
)

// preflightAlreadyReleased is preflight.ResultAlreadyReleased, which this package cannot import
// (the preflight reads the history).
const preflightAlreadyReleased step.ResultName = "ALREADY_RELEASED"

// RunRecord is the record-history step: work out how the run ended, write it as results for
// notify, and append one entry to the history ConfigMap.
func RunRecord(ctx context.Context, s *step.Step, cfg *RecordConfig) error {
	dryRun, err := checkRecordConfig(s, cfg)
	if err != nil {
		return err
	}
	ctx, cancel, kc, err := cfg.Connect(ctx, cfg.Namespace, cfg.Timeout)
	defer cancel()
	if err != nil {
		return err
	}
	run := readRun(ctx, s, kc, cfg)
	sha, shaErr := commit.ParseSHA(cfg.CommitSHA)
	d := decision{status: cfg.Status, release: cfg.ReleaseName, snapshot: cfg.Snapshot, sha: sha}
	resolveErr := d.decide(cfg, &run, errors.Join(shaErr, konflux.ValidNames(map[string]string{"COMPONENT": cfg.Component})),
		func() (RunOutcome, error) {
			return ResolveOutcome(ctx, kc, RunFacts{DryRun: dryRun, PipelineStatus: cfg.PipelineStatus, CreateStatus: cfg.CreateStatus,
				Release: cfg.ReleaseName, Snapshot: cfg.Snapshot}, cfg.Component, sha, cfg.HistoryConfigMap)
		})
	d.say(s, &run)
	// Written before the history update, so that the notification that follows can tell the
	// outcome even when the update fails. Every result is written, empty or not: Tekton
	// resolves the next step's $(steps.record-history.results.…) only when all of them exist.
	if err := writeResults(s, []result{
		{ResultReleaseStatus, d.status}, {ResultReleaseName, d.release}, {ResultGateSummary, run.gates},
		{ResultPinnedDigest, run.digest}, {ResultFailureCause, run.cause}, {ResultFailureFix, run.fix},
		{ResultKnownIssues, firstOf(cfg.KnownIssues, run.knownIssues)}, {ResultRecordNote, ""},
	}); err != nil {
		return err
	}
	if resolveErr != nil && d.status == "" {
		return resolveErr
	}
	e := d.entry(s, cfg, run)
	if e.Snapshot != "" && outcome.MayBeInProduction(e.Status) {
		// The build time lets later runs tell whether they would release an older commit.
		if sn, err := kc.GetSnapshot(ctx, e.Snapshot); err == nil {
			e.Built = sn.BuiltAt().UTC().Format(time.RFC3339)
		} else {
			s.Warn("reading Snapshot %s for its build time: %v (the entry is recorded without it)", e.Snapshot, err)
		}
	}
	return store(ctx, s, kc, cfg, e, resolveErr)
}

// checkRecordConfig checks the settings before anything is read, and returns DRY_RUN.
func checkRecordConfig(s *step.Step, cfg *RecordConfig) (dryRun bool, err error) {
	if err := konflux.ValidNames(map[string]string{"NAMESPACE": cfg.Namespace}); err != nil {
		return false, err // without a valid namespace there is nowhere to record
	}
	dryRun, err = step.ParseBool("DRY_RUN", cfg.DryRun, false)
	if err != nil {
		s.Warn("%v: recorded as not a dry run", err)
	}
	if cfg.Status == "" && cfg.PipelineStatus == "" && !dryRun {
		return false, failure.New(failure.InvalidInput, nil, "set STATUS, or PIPELINE_STATUS (and CREATE_STATUS) for the step to work the outcome out")
	}
	if cfg.Started != "" {
		if _, err := time.Parse(time.RFC3339, cfg.Started); err != nil {
			return false, failure.New(failure.InvalidInput, nil, "STARTED=%q is not an RFC 3339 time: %w", cfg.Started, err)
		}
	}
	// The report runs whatever the params were: a name that is not one still records, where the
	// history is by default.
	cfg.HistoryConfigMap = cfg.ConfigMap()
	if konflux.ValidNames(map[string]string{"HISTORY_CONFIGMAP": cfg.HistoryConfigMap}) != nil {
		cfg.HistoryConfigMap = DefaultConfigMap
	}
	if err := errors.Join(step.Positive("HISTORY_LIMIT", cfg.HistoryLimit), step.Positive("TIMEOUT", cfg.Timeout)); err != nil {
		return false, err
	}
	if cfg.Status != "" {
		// One spelling in the history, so that lookups (history.Released) match it.
		if st, ok := outcome.Normalize(cfg.Status); ok {
			cfg.Status = st
		} else {
			s.Warn("STATUS %.80q is none of %s: recorded as given", cfg.Status, strings.Join(outcome.Statuses, ", "))
		}
	}
	return dryRun, nil
}

// decision is what the step records: the run's status and what it released, as given or worked
// out.
type decision struct {
	status, release, snapshot, sha string
}

// decide works out the status when STATUS does not give it: from what the run's TaskRuns say
// (rejected input, a right missing, ended by Tekton), else from the Releases (resolve). It may
// set run's cause and fix. The error is resolve's, when the outcome could not be worked out.
func (d *decision) decide(cfg *RecordConfig, run *runFacts, inputErr error, resolve func() (RunOutcome, error)) error {
	switch {
	case d.status != "":
		return nil
	case run.stop.Rejected || inputErr != nil:
		// A run whose input was rejected is recorded too, with the values as given: the history
		// and Slack must hear of every run.
		d.status, d.sha = outcome.Rejected, cfg.CommitSHA
		if run.cause == "" && inputErr != nil {
			run.cause, run.fix = "invalid input, nothing was attempted: "+inputErr.Error(), "correct the params named and start the run again"
		}
		return nil
	case run.stop.NotPermitted:
		d.status = outcome.NotPermitted
		return nil
	case run.endedBeforeRelease(cfg.CreateStatus):
		d.status = run.endStatus()
		run.cause, run.fix = run.end.Cause(), run.end.Fix()
		return nil
	}
	o, err := resolve()
	switch {
	case err != nil:
		// Told, not only logged: the notification that follows reads these results.
		run.cause, run.fix = explain(err)
		if isNotPermitted(err) {
			d.status = outcome.NotPermitted
		}
		return err
	case run.end.Kind != "" && o.Release == "":
		// Ended by Tekton while create-release ran, before any Release existed.
		d.status = run.endStatus()
		run.cause, run.fix = run.end.Cause(), run.end.Fix()
	default:
		d.status = o.Status
		d.release = firstOf(d.release, o.Release)
		d.snapshot = firstOf(d.snapshot, o.Snapshot)
	}
	return nil
}

// say prints the outcome's line; for a run that released (or will), it clears run's cause.
func (d decision) say(s *step.Step, run *runFacts) {
	switch d.status {
	case outcome.Rejected, outcome.Blocked, outcome.NotPermitted, outcome.Cancelled, outcome.RunTimedOut:
		s.Fail("%s: %s", d.status, run.cause)
		if run.fix != "" {
			s.Info("  fix: %s", run.fix)
		}
	case "":
		s.Fail("the outcome could not be worked out: %s", run.cause)
	default:
		run.cause, run.fix = "", ""
	}
}

// entry is the history entry of the decision.
func (d decision) entry(s *step.Step, cfg *RecordConfig, run runFacts) Entry {
	started := cfg.Started
	if started == "" && !run.started.IsZero() {
		started = run.started.UTC().Format(time.RFC3339)
	}
	return Entry{SHA: d.sha, Component: cfg.Component, Application: cfg.Application, Snapshot: d.snapshot,
		Release: d.release, Status: d.status, Started: started,
		Finished: time.Now().UTC().Format(time.RFC3339), PipelineRun: cfg.PipelineRun, Cause: run.cause,
		Unmatched: unknownFailures(s, firstOf(cfg.UnknownFailures, run.unknown))}
}

// store appends e to the history ConfigMap. A write the ServiceAccount may not make is one line
// and a RECORD_NOTE, and the run's outcome stands; resolveErr (an outcome not worked out in
// full) still fails the step after a write.
func store(ctx context.Context, s *step.Step, kc *konflux.Client, cfg *RecordConfig, e Entry, resolveErr error) error {
	n, err := Append(ctx, kc, cfg.HistoryConfigMap, e, cfg.HistoryLimit)
	if err != nil {
		if ctx.Err() != nil {
			// Stopped (SIGTERM or TIMEOUT) with an update possibly in flight: the entry is either
			// whole or absent, never partial; say which to check.
			err = fmt.Errorf("stopped before the history update was confirmed: the entry for %s may or may not be in ConfigMap %s (check with kubectl get configmap %s -n %s -o yaml): %w",
				e.SHA, cfg.HistoryConfigMap, cfg.HistoryConfigMap, cfg.Namespace, err)
		}
		cause, fix := explain(err)
		note := fmt.Sprintf("not recorded in ConfigMap %s: %s (fix: %s)", cfg.HistoryConfigMap, cause, fix)
		if verb, ok := writeRefused(err); ok {
			// The ServiceAccount reads the ConfigMap and may not write it: hosted Konflux's
			// roles as the README sets them up. Nothing is missing there: the record is where
			// the run leaves it anyway. What matters comes first: Slack shows 300 bytes.
			note = refusedNote(cfg.HistoryConfigMap, cfg.Namespace, verb, e)
		}
		if rerr := s.Result(ResultRecordNote, note); rerr != nil {
			s.Warn("could not write result RECORD_NOTE: %v", rerr)
		}
		if isNotPermitted(err) && resolveErr == nil {
			// A ServiceAccount that may not write ConfigMaps (hosted Konflux gives no role
			// below admin that right): one line, and the run's outcome stands.
			s.Warn("history %s", note)
			return nil
		}
		return errors.Join(resolveErr, err)
	}
	rel := ""
	if e.Release != "" {
		rel = " (Release " + e.Release + ")"
	}
	s.OK("recorded %s of %s at commit %s%s in ConfigMap %s (%d entries)", e.Status, e.Component, e.SHA, rel, cfg.HistoryConfigMap, n)
	if err := s.Result(ResultHistoryEntries, strconv.Itoa(n)); err != nil {
		return err
	}
	// Recorded, but the outcome could not be worked out in full: the report fails, as it must.
	return resolveErr
}

// result is one result and its value.
type result struct {
	name  step.ResultName
	value string
}

// writeResults writes every result, in order.
func writeResults(s *step.Step, results []result) error {
	for _, r := range results {
		if err := s.Result(r.name, r.value); err != nil {
			return err
		}
	}
	return nil
}

// explain is err's cause and fix from the failure catalog, else err itself.
func explain(err error) (cause, fix string) {
	if a, ok := failure.Explain(err); ok {
		return a.Cause, a.Fix
	}
	return err.Error(), "read the report TaskRun's log (tkn taskrun logs), fix what it names and start the run again"
}

// writeRefused reports whether err is a ConfigMap write (not a read) the ServiceAccount may
// not make, and its verb.
func writeRefused(err error) (verb string, ok bool) {
	var fe *failure.Error
	if !errors.As(err, &fe) || fe.ID != failure.NotPermitted {
		return "", false
	}
	switch v := fe.Facts["verb"]; v {
	case "create", "update", "patch":
		return v, true
	}
	return "", false
}

// refusedNote is the one line for a history write the ServiceAccount may not make.
func refusedNote(configMap, namespace, verb string, e Entry) string {
	return fmt.Sprintf("not recorded in ConfigMap %s: the ServiceAccount may not %s configmaps (hosted Konflux: none may); the record is %s: tkn-local history %s -n %s (or set up with tenant-setup.sh --self-hosted)",
		configMap, verb, recordPlace(e), e.Component, namespace)
}

// recordPlace says where the run's record is when the ConfigMap could not take it.
func recordPlace(e Entry) string {
	if e.Release != "" && e.Status != outcome.DryRun && e.Status != outcome.AlreadyReleased {
		return "on the Release and in the PipelineRun's results"
	}
	return "in the PipelineRun's results"
}

func isNotPermitted(err error) bool {
	var fe *failure.Error
	return errors.As(err, &fe) && fe.ID == failure.NotPermitted
}

// runFacts is what the run's TaskRuns say of the preflight.
type runFacts struct {
	stop          taskruns.Stop
	gates, digest string
	cause, fix    string
	// unknown and knownIssues are the preflight's UNKNOWN_FAILURES and KNOWN_ISSUES results.
	unknown, knownIssues string
	started              time.Time // when the first TaskRun started; zero when unknown
	// end is how Tekton ended the run, when it did (cancelled, timed out).
	end taskruns.End
	// alreadyReleased is the preflight's ALREADY_RELEASED result.
	alreadyReleased bool
	preflightPassed bool
}

// endedBeforeRelease reports whether Tekton ended the run before create-release could create a
// Release: a TaskRun it cancelled or timed out before create-release, or a PipelineRun stopped
// (StoppedRunFinally, CancelledRunFinally) after a preflight that passed and found nothing
// released, so that create-release never started.
func (f runFacts) endedBeforeRelease(createStatus string) bool {
	if f.end.Kind == "" {
		return false
	}
	createRan := !strings.EqualFold(strings.TrimSpace(createStatus), "None") && strings.TrimSpace(createStatus) != ""
	if f.end.Task != "" {
		return f.end.Task != "create-release"
	}
	return !createRan && f.preflightPassed && !f.alreadyReleased
}

func (f runFacts) endStatus() outcome.Status {
	if f.end.Kind == taskruns.EndTimedOut {
		return outcome.RunTimedOut
	}
	return outcome.Cancelled
}

// readRun reads the run's TaskRuns (from the cluster, or the local runner's files) and tells
// what the preflight left: its results when it wrote them, else why it stopped. A run's report
// must not fail for want of them: what cannot be read is a warning.
func readRun(ctx context.Context, s *step.Step, kc *konflux.Client, cfg *RecordConfig) runFacts {
	var trs []taskruns.TaskRun
	var pr *taskruns.PipelineRun
	switch {
	case cfg.TaskRunsDir != "":
		list, err := taskruns.ReadDir(cfg.TaskRunsDir, cfg.PipelineRun)
		if err != nil {
			s.Warn("reading the run's TaskRuns: %v", err)
			return runFacts{}
		}
		trs = list
	case cfg.PipelineRun != "":
		objs, err := kc.TaskRuns(ctx, cfg.PipelineRun)
		if err != nil {
			err = kc.APIError(err, "TaskRun", "taskruns", "")
			s.Warn("reading the run's TaskRuns: %v", err)
			if isNotPermitted(err) {
				f := runFacts{stop: taskruns.Stop{NotPermitted: true}}
				f.cause, f.fix = explain(err)
				return f
			}
			return runFacts{}
		}
		for _, o := range objs {
			trs = append(trs, taskruns.Parse(o))
		}
		obj, err := kc.Dynamic.Resource(konflux.PipelineRunsResource).Namespace(kc.Namespace).Get(ctx, cfg.PipelineRun, metav1.GetOptions{})
		if err != nil {
			// The TaskRuns still tell a cancel or a timeout; only StoppedRunFinally between
			// tasks goes unseen.
			s.Warn("reading PipelineRun %s: %v", cfg.PipelineRun, kc.APIError(err, "PipelineRun", "pipelineruns", cfg.PipelineRun))
		} else {
			p := taskruns.ParsePipelineRun(obj.Object)
			pr = &p
		}
	default:
		return runFacts{}
	}
	pre := taskruns.Find(trs, "preflight")
	var f runFacts
	f.started = taskruns.Started(trs)
	f.end = taskruns.Ended(pr, trs)
	if pre != nil {
		read := func(r step.ResultName) string { return pre.Results[string(r)] }
		f.alreadyReleased = strings.TrimSpace(read(preflightAlreadyReleased)) == "true"
		f.preflightPassed = pre.Status == "True"
		f.gates, f.digest = read(verdict.ResultGateSummary), read(image.ResultPinnedDigest)
		f.cause, f.fix = read(verdict.ResultFailureCause), read(verdict.ResultFailureFix)
		f.unknown, f.knownIssues = read(verdict.ResultUnknownFailures), read(knownissues.ResultKnownIssues)
	}
	if pre == nil || pre.Status == "False" {
		f.stop = taskruns.Explain(pre)
		if f.stop.Cause != "" {
			f.cause, f.fix = f.stop.Cause, f.stop.Fix
		}
	}
	return f
}

// unknownFailures reads UNKNOWN_FAILURES leniently: the outcome is recorded even when the list
// is unreadable.
func unknownFailures(s *step.Step, v string) []knowledge.Unmatched {
	list, err := knowledge.DecodeUnmatched(v)
	if err != nil {
		s.Warn("%v: the unknown failures are not recorded", err)
		return nil
	}
	for _, u := range list {
		s.Info("recording unknown failure %s of %s (teach it: tkn-local failures teach %s …)", u.Fingerprint, u.Step, u.Fingerprint)
	}
	return list
}

func firstOf(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
