package konflux

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/release-to-prod/release-to-prod/pkg/step/failure"
)

// Conditions, labels and annotations the integration service reads and sets on Snapshots
// (konflux-ci/integration-service, gitops/snapshot.go). The HACBS names are the legacy spellings
// it still reads.
const (
	ConditionTestSucceeded       = "AppStudioTestSucceeded"
	conditionLegacyTestSucceeded = "HACBSStudioTestSucceeded"
	ConditionIntegrationStatus   = "AppStudioIntegrationStatus"
	conditionLegacyIntegration   = "HACBSIntegrationStatus"
	// ConditionAutoReleased says whether (and why not) integration-service auto-released it.
	ConditionAutoReleased = "AutoReleased"
	reasonInvalid         = "Invalid"
	// reasonCanceled: the Snapshot's tests were canceled because a newer Snapshot superseded it.
	reasonCanceled    = "Canceled"
	labelSnapshotType = "test.appstudio.openshift.io/type"
	// LabelPullRequest is the PaC pull-request number, copied from the build PipelineRun.
	LabelPullRequest = "pac.test.appstudio.openshift.io/pull-request"
	// AnnotationSourceBranch is the PaC source branch; merge-queue builds run on
	// gh-readonly-queue/… branches.
	AnnotationSourceBranch = "pac.test.appstudio.openshift.io/source-branch"
	mergeQueuePrefix       = "gh-readonly-queue/"
	// AnnotationBuildStartTime is the build PipelineRun's start (Unix seconds or milliseconds):
	// integration-service orders Snapshots by it, falling back to the creation time.
	AnnotationBuildStartTime = "test.appstudio.openshift.io/pipelinerunstarttime"
)

// SnapshotState is what the integration service says of one Snapshot.
type SnapshotState string

// The states, from releasable to not.
const (
	SnapshotPassed     SnapshotState = "tests passed"
	SnapshotRunning    SnapshotState = "tests still running"
	SnapshotFailed     SnapshotState = "tests failed"
	SnapshotCanceled   SnapshotState = "canceled: superseded by a newer Snapshot"
	SnapshotInvalid    SnapshotState = "marked Invalid"
	SnapshotNotPush    SnapshotState = "not a push event"
	SnapshotMergeQueue SnapshotState = "built for a merge queue, not the merged commit"
	SnapshotGroup      SnapshotState = "a group Snapshot of pull requests"
)

// isPush is integration-service's IsSnapshotCreatedByPACPushEvent: not built for a merge queue,
// not a group Snapshot, and a push event — which a Snapshot without an event-type label (made
// by hand) or without a pull-request label also counts as.
func (s *Snapshot) isPush() (SnapshotState, bool) {
	switch {
	case strings.HasPrefix(strings.TrimPrefix(s.Annotations[AnnotationSourceBranch], "refs/heads/"), mergeQueuePrefix):
		return SnapshotMergeQueue, false
	case s.Labels[labelSnapshotType] == "group":
		return SnapshotGroup, false
	}
	ev, hasEvent := s.Labels[LabelEventType]
	_, hasPR := s.Labels[LabelPullRequest]
	if ev == "push" || ev == "Push" || !hasEvent || !hasPR {
		return "", true
	}
	return SnapshotNotPush, false
}

// State classifies the Snapshot the way the integration service decides whether it can be
// promoted (gitops.CanSnapshotBePromoted): a push Snapshot, not marked Invalid
// (AppStudioIntegrationStatus reason Invalid), whose tests finished (AppStudioTestSucceeded not
// Unknown) and passed. A Snapshot whose tests were canceled because a newer one superseded it
// (AppStudioIntegrationStatus True/Canceled) is said to be so rather than "running". The
// test.appstudio.openshift.io/status annotation only details the scenarios and is not read. It
// returns the condition message that explains the state, if any.
func (s *Snapshot) State() (SnapshotState, string) {
	if st, ok := s.isPush(); !ok {
		why := s.EventType
		switch {
		case st == SnapshotMergeQueue:
			why = s.Annotations[AnnotationSourceBranch]
		case why == "":
			why = "no event type"
		}
		return st, why
	}
	integration, hasIntegration := s.firstCondition(ConditionIntegrationStatus, conditionLegacyIntegration)
	if hasIntegration && integration.Reason == reasonInvalid {
		return SnapshotInvalid, integration.Message
	}
	c, ok := s.firstCondition(ConditionTestSucceeded, conditionLegacyTestSucceeded)
	finished := ok && c.Status != "Unknown" && c.Status != ""
	switch {
	case !finished && hasIntegration && integration.Status == "True" && integration.Reason == reasonCanceled:
		return SnapshotCanceled, integration.Message
	case !finished:
		return SnapshotRunning, c.Message
	case c.Status == "True":
		return SnapshotPassed, c.Message
	default:
		return SnapshotFailed, c.Message
	}
}

func (s *Snapshot) firstCondition(types ...string) (Condition, bool) {
	for _, t := range types {
		if c, ok := s.Condition(t); ok {
			return c, true
		}
	}
	return Condition{}, false
}

// BuiltAt is when the Snapshot's build started, the order integration-service keeps Snapshots in
// (gitops.SortSnapshots): the build PipelineRun's start time annotation, else the creation time.
func (s *Snapshot) BuiltAt() time.Time {
	if v, err := strconv.ParseInt(s.Annotations[AnnotationBuildStartTime], 10, 64); err == nil && v > 0 {
		// Seconds or milliseconds, as integration-service accepts both.
		if v <= 10_000_000_000 {
			return time.Unix(v, 0).UTC()
		}
		return time.UnixMilli(v).UTC()
	}
	return s.Created
}

// Entries returns the Snapshot's entries of component (one per version).
func (s *Snapshot) Entries(component string) []SnapshotComponent {
	var out []SnapshotComponent
	for _, c := range s.Components {
		if c.Name == component {
			out = append(out, c)
		}
	}
	if len(out) == 0 && s.Images[component] != "" {
		// Built by hand (tests) without Components.
		out = append(out, SnapshotComponent{Name: component, Image: s.Images[component]})
	}
	return out
}

// Entry returns the entry of component built from sha: the only one, or — when the component is
// listed more than once (versions) — the one whose source.git.revision is sha, as the release
// service reads a Snapshot.
func (s *Snapshot) Entry(component, sha string) (SnapshotComponent, error) {
	entries := s.Entries(component)
	switch len(entries) {
	case 0:
		return SnapshotComponent{}, fmt.Errorf("snapshot %s has no image for component %s", s.Name, component)
	case 1:
		return entries[0], nil
	}
	revs := make([]string, 0, len(entries))
	for _, e := range entries {
		if e.Revision == sha {
			return e, nil
		}
		revs = append(revs, fmt.Sprintf("%q", e.Revision))
	}
	return SnapshotComponent{}, fmt.Errorf("snapshot %s lists component %s %d times (versions), none with source.git.revision %s: %s", s.Name, component, len(entries), sha, strings.Join(revs, ", "))
}

// Digest returns the image and digest of component at sha in the Snapshot (Entry); Konflux
// records images by digest, so a tag-only reference is an error.
func (s *Snapshot) Digest(component, sha string) (image, digest string, err error) {
	e, err := s.Entry(component, sha)
	if err != nil {
		return "", "", err
	}
	image = e.Image
	i := strings.LastIndex(image, "@")
	if i < 0 || !strings.HasPrefix(image[i+1:], "sha256:") {
		return image, "", fmt.Errorf("snapshot %s names the image of %s without a digest: %q", s.Name, component, image)
	}
	return image, image[i+1:], nil
}

// Skipped is a Snapshot newer than the chosen one (or any, when none is chosen) that is not
// releasable, and why.
type Skipped struct {
	Name    string
	State   SnapshotState
	Message string
}

// SnapshotChoice is how FindSnapshot chooses.
type SnapshotChoice struct {
	// AllowOlder releases the newest passing Snapshot of the commit even when a newer one of the
	// same commit failed its tests or is still running them (by default the newest test
	// evidence wins and the release blocks).
	AllowOlder bool
}

// SortSnapshots orders Snapshots newest first, as integration-service does (BuiltAt), names
// breaking ties so that the order is stable.
func SortSnapshots(snaps []Snapshot) []*Snapshot {
	sorted := make([]*Snapshot, len(snaps))
	for i := range snaps {
		sorted[i] = &snaps[i]
	}
	sort.SliceStable(sorted, func(i, j int) bool {
		ti, tj := sorted[i].BuiltAt(), sorted[j].BuiltAt()
		if !ti.Equal(tj) {
			return ti.After(tj)
		}
		return sorted[i].Name > sorted[j].Name
	})
	return sorted
}

// FindSnapshot chooses the Snapshot to release among the Snapshots of one component and commit,
// the way integration-service would promote one: only push Snapshots count (pull-request,
// merge-queue and group Snapshots are passed over), and among them the newest whose tests
// finished is the evidence — Snapshots marked Invalid, and Snapshots whose tests were canceled
// because a newer Snapshot superseded them, are passed over with their reason. The evidence must
// have passed: if it failed, or is still running, the release blocks, naming it and the older
// passing Snapshot when there is one, unless choice.AllowOlder, which releases that older one.
// When nothing is releasable it returns a known failure saying why. skipped lists the Snapshots
// passed over, newest first.
func FindSnapshot(snaps []Snapshot, component, sha, namespace string, choice SnapshotChoice) (chosen *Snapshot, skipped []Skipped, err error) {
	sorted := SortSnapshots(snaps)
	facts := map[string]string{"component": component, "sha": sha, "namespace": namespace}
	var evidence *Snapshot // the newest push Snapshot whose tests are not canceled and that is valid
	var evidenceState SnapshotState
	var evidenceMsg string
	var newestPush *Snapshot // the newest push Snapshot of any state, for the message when none counts
	var newestState SnapshotState
	var newestMsg string
	for _, sn := range sorted {
		st, msg := sn.State()
		push := st != SnapshotNotPush && st != SnapshotMergeQueue && st != SnapshotGroup
		if push && newestPush == nil {
			newestPush, newestState, newestMsg = sn, st, msg
		}
		if st == SnapshotPassed {
			if evidence == nil {
				return sn, skipped, nil
			}
			if choice.AllowOlder {
				return sn, skipped, nil
			}
			facts["snapshot"], facts["message"], facts["older"] = evidence.Name, evidenceMsg, sn.Name
			if evidenceState == SnapshotRunning {
				return nil, skipped, failure.New(failure.SnapshotTestsRunning, facts,
					"Snapshot %s, the newest of commit %s, is still running its integration tests (older Snapshot %s passed)", evidence.Name, sha, sn.Name)
			}
			return nil, skipped, failure.New(failure.SnapshotNewerFailed, facts,
				"Snapshot %s, the newest of commit %s, failed its integration tests: %s (older Snapshot %s passed)", evidence.Name, sha, evidenceMsg, sn.Name)
		}
		skipped = append(skipped, Skipped{Name: sn.Name, State: st, Message: msg})
		if evidence == nil && (st == SnapshotFailed || st == SnapshotRunning) {
			evidence, evidenceState, evidenceMsg = sn, st, msg
		}
	}
	if newestPush == nil {
		facts["selector"] = LabelComponent + "=" + component + "," + LabelSHA + "=" + sha
		if len(sorted) > 0 {
			return nil, skipped, failure.New(failure.SnapshotMissing, facts,
				"no push-event Snapshot of %s for commit %s: only %d pull-request Snapshot(s), which are never released (merge-queue and group Snapshots count as such)", component, sha, len(sorted))
		}
		return nil, skipped, failure.New(failure.SnapshotMissing, facts, "no Snapshot of %s for commit %s: the build is not done", component, sha)
	}
	if evidence != nil {
		newestPush, newestState, newestMsg = evidence, evidenceState, evidenceMsg
	}
	facts["snapshot"] = newestPush.Name
	facts["message"] = newestMsg
	switch newestState {
	case SnapshotRunning:
		return nil, skipped, failure.New(failure.SnapshotTestsRunning, facts, "Snapshot %s: integration tests still running", newestPush.Name)
	case SnapshotInvalid:
		return nil, skipped, failure.New(failure.SnapshotInvalid, facts, "Snapshot %s is marked Invalid: %s", newestPush.Name, newestMsg)
	case SnapshotCanceled:
		return nil, skipped, failure.New(failure.SnapshotSuperseded, facts, "Snapshot %s was superseded by a newer Snapshot of %s (its integration tests were canceled): %s", newestPush.Name, component, newestMsg)
	default:
		return nil, skipped, failure.New(failure.SnapshotTestsFailed, facts, "Snapshot %s: integration tests failed: %s", newestPush.Name, newestMsg)
	}
}
