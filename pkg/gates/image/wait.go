package image

import (
	"context"
	"errors"
	"time"

	"github.com/release-to-prod/release-to-prod/pkg/clients/konflux"
	"github.com/release-to-prod/release-to-prod/pkg/step"
	"github.com/release-to-prod/release-to-prod/pkg/step/failure"
)

// waitForBuild holds the gates of a merge-triggered run, which Pipelines-as-Code starts together
// with the build, until the build is done (konflux.WaitForBuild): the <sha> tag exists and the
// commit's push Snapshot has finished its tests. BUILD_WAIT_TIMEOUT=0 (by hand, the build long
// done) skips it, and the gate makes its one HEAD request as before.
func waitForBuild(ctx context.Context, s *step.Step, cfg *Config, repo, sha string) error {
	if cfg.BuildWaitTimeout <= 0 {
		return nil
	}
	kc, err := cfg.Client(cfg.Namespace)
	if err != nil {
		return err
	}
	s.Info("  waiting up to %s for the build of commit %s (BUILD_WAIT_TIMEOUT)", cfg.BuildWaitTimeout, sha)
	return kc.WaitForBuild(ctx, s, konflux.BuildWait{
		Component: cfg.Component, SHA: sha, Timeout: cfg.BuildWaitTimeout, Progress: cfg.ProgressInterval,
		ImageExists: func(ctx context.Context) (bool, error) {
			_, err := Check(ctx, repo, sha, cfg)
			var fe *failure.Error
			if errors.As(err, &fe) && fe.ID == failure.ImageNotFound {
				return false, nil
			}
			return err == nil, err
		},
	})
}

// buildWaitBudget is the TIMEOUT the gate needs on top of the build wait.
func buildWaitBudget(cfg *Config) time.Duration { return cfg.Timeout + cfg.BuildWaitTimeout }
