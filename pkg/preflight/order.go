package preflight

import (
	"context"
	"time"

	"github.com/release-to-prod/release-to-prod/pkg/failure"
	"github.com/release-to-prod/release-to-prod/pkg/history"
	"github.com/release-to-prod/release-to-prod/pkg/konflux"
	"github.com/release-to-prod/release-to-prod/pkg/outcome"
	"github.com/release-to-prod/release-to-prod/pkg/step"
)

// maxSnapshotReads bounds the Snapshots read for history entries that predate the built field.
const maxSnapshotReads = 3

// released is one commit of the component the history says is in production.
type released struct {
	entry history.Entry
	built time.Time
}

// checkOrder blocks a release out of order: when a commit of the component that is in
// production (by the history, which records every release this pipeline made or observed) was
// built after this one. "Built" is the time integration-service orders Snapshots by — the build
// PipelineRun's start, else the Snapshot's creation — recorded in each history entry; an older
// entry without it is judged by its Snapshot while Konflux keeps that. allow_out_of_order
// releases anyway (a deliberate roll-back).
func checkOrder(ctx context.Context, c *konflux.Client, s *step.Step, cfg *Config, st settings, entries []history.Entry, snap *konflux.Snapshot) error {
	ours := snap.BuiltAt()
	seen := map[string]bool{}
	var newest *released
	compared, unknown, reads := 0, 0, 0
	for _, e := range entries {
		if e.Component != cfg.Component || e.SHA == st.sha || seen[e.SHA] || !outcome.MayBeInProduction(e.Status) {
			continue
		}
		seen[e.SHA] = true
		built, ok := e.BuiltTime()
		if !ok && e.Snapshot != "" && reads < maxSnapshotReads {
			reads++
			if sn, err := c.GetSnapshot(ctx, e.Snapshot); err == nil {
				built, ok = sn.BuiltAt(), true
			}
		}
		if !ok {
			unknown++
			continue
		}
		compared++
		if built.After(ours) && (newest == nil || built.After(newest.built)) {
			newest = &released{entry: e, built: built}
		}
	}
	if unknown > 0 {
		s.Info("  %d released commit(s) of %s in the history have no build time left to compare (old entries whose Snapshot is gone)", unknown, cfg.Component)
	}
	if newest == nil {
		s.OK("in order: no newer commit of %s is in production (%d released commit(s) compared by build time)", cfg.Component, compared)
		return nil
	}
	facts := map[string]string{"newer_sha": newest.entry.SHA, "component": cfg.Component, "newer_snapshot": newest.entry.Snapshot,
		"newer_built": newest.built.UTC().Format(time.RFC3339), "snapshot": snap.Name, "built": ours.UTC().Format(time.RFC3339),
		"newer_release": newest.entry.Release}
	if st.ooOrder {
		s.Warn("out of order: commit %s, built after this one, is in production (Release %s); releasing anyway (ALLOW_OUT_OF_ORDER=true)", short(newest.entry.SHA), newest.entry.Release)
		return nil
	}
	return fail(s, failure.New(failure.NewerCommitReleased, facts,
		"commit %s of %s, built %s after this one, is in production already (Release %s)",
		newest.entry.SHA, cfg.Component, newest.built.Sub(ours).Round(time.Second), newest.entry.Release),
		"out of order: a newer commit of %s (%s) is in production already", cfg.Component, short(newest.entry.SHA))
}
