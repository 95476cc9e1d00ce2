package konflux

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/release-to-prod/release-to-prod/pkg/commit"
	"github.com/release-to-prod/release-to-prod/pkg/failure"
	"github.com/release-to-prod/release-to-prod/pkg/step"
)

// RecordHistoryConfig is the record-history step's configuration.
type RecordHistoryConfig struct {
	step.Common
	CommitSHA        string        `env:"COMMIT_SHA, required" desc:"full 40-character SHA of the commit to release (lowercase hex; short SHAs never exist as image tags)"`
	Component        string        `env:"COMPONENT, default=automation-analytics-backend-main" desc:"Konflux Component to release"`
	Namespace        string        `env:"NAMESPACE, default=aap-aa-tenant" desc:"Konflux tenant namespace"`
	Application      string        `env:"APPLICATION, default=aap-aa-main" desc:"Konflux Application of the component"`
	Snapshot         string        `env:"SNAPSHOT" desc:"Snapshot to release (the preflight's SNAPSHOT result)"`
	ReleaseName      string        `env:"RELEASE_NAME" desc:"name of the Konflux Release created or found; empty when none"`
	Status           string        `env:"STATUS" desc:"outcome to record (Succeeded, Failed, TimedOut, DryRun, AlreadyReleased, …); empty: worked out from PIPELINE_STATUS, CREATE_STATUS, DRY_RUN and the Releases"`
	PipelineStatus   string        `env:"PIPELINE_STATUS" desc:"the pipeline's $(tasks.status): Succeeded, Failed, Completed or None"`
	CreateStatus     string        `env:"CREATE_STATUS" desc:"the create-release task's $(tasks.create-release.status) (None when skipped), when STATUS is empty"`
	DryRun           string        `env:"DRY_RUN, default=false" desc:"true runs every gate and prints the Release it would create, without creating it"`
	Started          string        `env:"STARTED" desc:"when the run started (RFC 3339); empty: unknown"`
	PipelineRun      string        `env:"PIPELINE_RUN" desc:"name of the PipelineRun, for the record"`
	HistoryConfigMap string        `env:"HISTORY_CONFIGMAP, default=release-history" desc:"ConfigMap holding the release history (the project's Role grants access to release-history)"`
	HistoryLimit     int           `env:"HISTORY_LIMIT, default=200" desc:"entries kept, newest first"`
	Kubeconfig       string        `param:"-" env:"KUBECONFIG" desc:"kubeconfig file; empty: in-cluster ServiceAccount"`
	Timeout          time.Duration `param:"-" env:"TIMEOUT, default=1m" desc:"time limit for the update, retries on conflict included"`
}

// RunRecordHistory is the record-history step: append one entry to the history ConfigMap.
func RunRecordHistory(ctx context.Context, s *step.Step, cfg *RecordHistoryConfig) error {
	sha, err := commit.ParseSHA(cfg.CommitSHA)
	if err != nil {
		return failure.Wrap(failure.InvalidInput, nil, err)
	}
	if err := required(map[string]string{"COMPONENT": cfg.Component, "NAMESPACE": cfg.Namespace}); err != nil {
		return err
	}
	dryRun, err := boolSetting("DRY_RUN", cfg.DryRun, false)
	if err != nil {
		return err
	}
	if cfg.Status == "" && cfg.PipelineStatus == "" && !dryRun {
		return failure.New(failure.InvalidInput, nil, "set STATUS, or PIPELINE_STATUS (and CREATE_STATUS) for the step to work the outcome out")
	}
	if cfg.Started != "" {
		if _, err := time.Parse(time.RFC3339, cfg.Started); err != nil {
			return failure.New(failure.InvalidInput, nil, "STARTED=%q is not an RFC 3339 time: %w", cfg.Started, err)
		}
	}
	if cfg.HistoryConfigMap == "" {
		cfg.HistoryConfigMap = "release-history"
	}
	if cfg.HistoryLimit <= 0 {
		cfg.HistoryLimit = DefaultHistoryLimit
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	kc, err := NewClient(cfg.Kubeconfig, cfg.Namespace)
	if err != nil {
		return err
	}
	if cfg.Status == "" {
		o, err := kc.ResolveOutcome(ctx, RunFacts{DryRun: dryRun, PipelineStatus: cfg.PipelineStatus, CreateStatus: cfg.CreateStatus},
			cfg.Component, sha, cfg.HistoryConfigMap)
		if err != nil {
			return err
		}
		cfg.Status = o.Status
		if cfg.ReleaseName == "" {
			cfg.ReleaseName = o.Release
		}
		if cfg.Snapshot == "" {
			cfg.Snapshot = o.Snapshot
		}
	}
	// Written before the history update, so that the notification that follows can tell the
	// outcome even when the update fails.
	if err := s.Result("RELEASE_STATUS", cfg.Status); err != nil {
		return err
	}
	if err := s.Result("RELEASE_NAME", cfg.ReleaseName); err != nil {
		return err
	}
	e := HistoryEntry{SHA: sha, Component: cfg.Component, Application: cfg.Application, Snapshot: cfg.Snapshot,
		Release: cfg.ReleaseName, Status: cfg.Status, Started: cfg.Started,
		Finished: time.Now().UTC().Format(time.RFC3339), PipelineRun: cfg.PipelineRun}
	n, err := kc.AppendHistory(ctx, cfg.HistoryConfigMap, e, cfg.HistoryLimit)
	if err != nil {
		if ctx.Err() != nil {
			// Stopped (SIGTERM or TIMEOUT) with an update possibly in flight: the entry is either
			// whole or absent, never partial; say which to check.
			return fmt.Errorf("stopped before the history update was confirmed: the entry for %s may or may not be in ConfigMap %s (check with kubectl get configmap %s -n %s -o yaml): %w",
				sha, cfg.HistoryConfigMap, cfg.HistoryConfigMap, cfg.Namespace, err)
		}
		return err
	}
	rel := ""
	if cfg.ReleaseName != "" {
		rel = " (Release " + cfg.ReleaseName + ")"
	}
	s.OK("recorded %s of %s at commit %s%s in ConfigMap %s (%d entries)", cfg.Status, cfg.Component, sha, rel, cfg.HistoryConfigMap, n)
	return s.Result("HISTORY_ENTRIES", strconv.Itoa(n))
}
