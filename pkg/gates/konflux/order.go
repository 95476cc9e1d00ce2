package konflux

import (
	"context"
	"time"

	"github.com/release-to-prod/release-to-prod/pkg/actions/history"
	konfluxapi "github.com/release-to-prod/release-to-prod/pkg/clients/konflux"
	"github.com/release-to-prod/release-to-prod/pkg/step"
	"github.com/release-to-prod/release-to-prod/pkg/step/outcome"
)

// maxSnapshotReads bounds the Snapshots read for history entries that predate the built field.
const maxSnapshotReads = 3

// released is one commit of the component the history says is in production.
type released struct {
	entry history.Entry
	built time.Time
}

// checkOrder blocks a release out of order: when a build of the component newer than this one is
// in production or on its way — by the Releases through the plan (konflux.CheckOrder: any author,
// still running included) and by the history (which outlives the Releases Konflux deletes) — or
// when the Snapshot's other components would go back to older images. "Built" is the time integration-service orders Snapshots by — the build
// PipelineRun's start, else the Snapshot's creation — recorded in each history entry; an older
// entry without it is judged by its Snapshot while Konflux keeps that. allow_out_of_order
// releases anyway (a deliberate roll-back).
func checkOrder(ctx context.Context, c *konfluxapi.Client, s *step.Step, cfg *Config, st settings, entries []history.Entry, snap *konfluxapi.Snapshot, plan string) error {
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
	q := konfluxapi.OrderQuery{Component: cfg.Component, SHA: st.sha, Plan: plan, Snapshot: snap}
	rep, err := c.CheckOrder(ctx, q)
	if err != nil {
		return fail(s, err, "in order: reading the Releases through %s", plan)
	}
	if newest != nil && (rep.Newer == nil || newest.built.After(rep.Newer.Built)) {
		rep.Newer = &konfluxapi.Newer{SHA: newest.entry.SHA, Built: newest.built, Snapshot: newest.entry.Snapshot, Release: newest.entry.Release,
			State: "recorded " + newest.entry.Status + " in the history " + cfg.HistoryConfigMap}
	}
	return rep.Judge(s, q, st.AllowOutOfOrder, compared)
}
