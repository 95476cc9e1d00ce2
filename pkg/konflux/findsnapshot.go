package konflux

import (
	"fmt"
	"sort"
	"strings"

	"github.com/release-to-prod/release-to-prod/pkg/failure"
)

// Conditions and values the integration service sets on Snapshots (konflux-ci/integration-service,
// gitops/snapshot.go). The HACBS names are the legacy spellings it still reads.
const (
	ConditionTestSucceeded       = "AppStudioTestSucceeded"
	conditionLegacyTestSucceeded = "HACBSStudioTestSucceeded"
	ConditionIntegrationStatus   = "AppStudioIntegrationStatus"
	conditionLegacyIntegration   = "HACBSIntegrationStatus"
	reasonInvalid                = "Invalid"
	labelSnapshotType            = "test.appstudio.openshift.io/type"
)

// SnapshotState is what the integration service says of one Snapshot.
type SnapshotState string

// The states, from releasable to not.
const (
	SnapshotPassed  SnapshotState = "tests passed"
	SnapshotRunning SnapshotState = "tests still running"
	SnapshotFailed  SnapshotState = "tests failed"
	SnapshotInvalid SnapshotState = "marked Invalid"
	SnapshotNotPush SnapshotState = "not a push event"
)

// State classifies the Snapshot the way the integration service decides whether it can be
// promoted: built on a push (GitHub "push", GitLab "Push"), not a group Snapshot, not marked
// Invalid (AppStudioIntegrationStatus False/Invalid), and AppStudioTestSucceeded True. The
// test.appstudio.openshift.io/status annotation only details the scenarios and is not read.
// It returns the condition message that explains the state, if any.
func (s *Snapshot) State() (SnapshotState, string) {
	if (s.EventType != "push" && s.EventType != "Push") || s.Labels[labelSnapshotType] == "group" {
		ev := s.EventType
		if ev == "" {
			ev = "no event type"
		}
		return SnapshotNotPush, ev
	}
	if c, ok := s.firstCondition(ConditionIntegrationStatus, conditionLegacyIntegration); ok && c.Reason == reasonInvalid {
		return SnapshotInvalid, c.Message
	}
	c, ok := s.firstCondition(ConditionTestSucceeded, conditionLegacyTestSucceeded)
	switch {
	case !ok || c.Status == "Unknown" || c.Status == "":
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

// Digest returns the digest of component's image in the Snapshot; Konflux records images by
// digest, so a tag-only reference is an error.
func (s *Snapshot) Digest(component string) (image, digest string, err error) {
	image, ok := s.Images[component]
	if !ok {
		return "", "", fmt.Errorf("snapshot %s has no image for component %s", s.Name, component)
	}
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

// FindSnapshot chooses the Snapshot to release among the Snapshots of one component and commit:
// the newest push-event Snapshot whose tests passed and that is not invalid. When there is none it
// returns a known failure saying why, judged by the newest push-event Snapshot (tests failed,
// still running, invalid), or that none exists (the build is not done). skipped lists the
// newer Snapshots passed over, newest first.
func FindSnapshot(snaps []Snapshot, component, sha, namespace string) (chosen *Snapshot, skipped []Skipped, err error) {
	sorted := make([]*Snapshot, len(snaps))
	for i := range snaps {
		sorted[i] = &snaps[i]
	}
	sort.SliceStable(sorted, func(i, j int) bool {
		if !sorted[i].Created.Equal(sorted[j].Created) {
			return sorted[i].Created.After(sorted[j].Created)
		}
		return sorted[i].Name > sorted[j].Name
	})
	var newestPush *Snapshot
	var newestState SnapshotState
	var newestMsg string
	for _, sn := range sorted {
		st, msg := sn.State()
		if st == SnapshotPassed {
			return sn, skipped, nil
		}
		skipped = append(skipped, Skipped{Name: sn.Name, State: st, Message: msg})
		if st != SnapshotNotPush && newestPush == nil {
			newestPush, newestState, newestMsg = sn, st, msg
		}
	}
	facts := map[string]string{"component": component, "sha": sha, "namespace": namespace}
	if newestPush == nil {
		facts["selector"] = LabelComponent + "=" + component + "," + LabelSHA + "=" + sha
		if len(sorted) > 0 {
			return nil, skipped, failure.New(failure.SnapshotMissing, facts,
				"no push-event Snapshot of %s for commit %s: only %d pull-request Snapshot(s), which are never released", component, sha, len(sorted))
		}
		return nil, skipped, failure.New(failure.SnapshotMissing, facts, "no Snapshot of %s for commit %s: the build is not done", component, sha)
	}
	facts["snapshot"] = newestPush.Name
	facts["message"] = newestMsg
	switch newestState {
	case SnapshotRunning:
		return nil, skipped, failure.New(failure.SnapshotTestsRunning, facts, "Snapshot %s: integration tests still running", newestPush.Name)
	case SnapshotInvalid:
		return nil, skipped, failure.New(failure.SnapshotInvalid, facts, "Snapshot %s is marked Invalid: %s", newestPush.Name, newestMsg)
	default:
		return nil, skipped, failure.New(failure.SnapshotTestsFailed, facts, "Snapshot %s: integration tests failed: %s", newestPush.Name, newestMsg)
	}
}
