// Package history is the project's own record of releases, kept because Konflux deletes Releases
// after their grace period: the entries, the ConfigMap that stores them, the record-history step
// that appends one per run, and the run's outcome as that step works it out.
package history

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/release-to-prod/release-to-prod/pkg/clients/konflux"
	"github.com/release-to-prod/release-to-prod/pkg/step/failure"
	"github.com/release-to-prod/release-to-prod/pkg/step/knowledge"
	"github.com/release-to-prod/release-to-prod/pkg/step/outcome"
)

// The history is a ConfigMap in the tenant namespace whose key history.json holds a JSON array of
// entries, newest first.
const (
	Key = "history.json"
	// DefaultLimit is how many entries are kept by default.
	DefaultLimit = 200
	// MaxBytes keeps the ConfigMap far below the API server's 1 MiB object limit; the
	// oldest entries go first.
	MaxBytes = 256 << 10
	// maxFieldLength bounds each field so that one odd entry cannot crowd out the others.
	maxFieldLength = 253
)

// ConfigMapsResource is the core ConfigMap resource.
var ConfigMapsResource = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}

// Entry is one release attempt.
type Entry struct {
	SHA         string `json:"sha"`
	Component   string `json:"component"`
	Application string `json:"application"`
	Snapshot    string `json:"snapshot"`
	Release     string `json:"release"`
	Status      string `json:"status"`
	Started     string `json:"started"`
	Finished    string `json:"finished"`
	PipelineRun string `json:"pipelineRun"`
	// Cause is why a run that did not release stopped (Blocked, Rejected), in short.
	Cause string `json:"cause,omitempty"`
	// Built is when the released Snapshot's build started (RFC 3339), the order integration-service
	// keeps Snapshots in; the preflight compares it to block releases out of order. Empty in
	// entries written before it existed, and when the Snapshot was not known.
	Built string `json:"built,omitempty"`
	// Unmatched are the run's failures nobody explained, with their fingerprints (see
	// history_unmatched.go).
	Unmatched []knowledge.Unmatched `json:"unmatched,omitempty"`
}

// BuiltTime parses Built.
func (e Entry) BuiltTime() (time.Time, bool) {
	t, err := time.Parse(time.RFC3339, e.Built)
	return t, err == nil
}

// Decode parses the history.json value; empty means no entries.
func Decode(data string) ([]Entry, error) {
	if data == "" {
		return nil, nil
	}
	var out []Entry
	if err := json.Unmarshal([]byte(data), &out); err != nil {
		return nil, fmt.Errorf("%s is not a JSON array of history entries: %w", Key, err)
	}
	return out, nil
}

// Prepend puts e first and drops the oldest entries beyond limit or MaxBytes; it
// returns the encoded history.
func Prepend(entries []Entry, e Entry, limit int) ([]Entry, []byte, error) {
	if limit <= 0 {
		limit = DefaultLimit
	}
	e = e.bounded()
	out := make([]Entry, 0, min(len(entries)+1, limit))
	out = append(out, e)
	for _, old := range entries {
		if len(out) >= limit {
			break
		}
		out = append(out, old)
	}
	for {
		b, err := json.Marshal(out)
		if err != nil {
			return nil, nil, fmt.Errorf("encoding the release history: %w", err)
		}
		if len(b) <= MaxBytes || len(out) == 1 {
			return out, b, nil
		}
		// Drop about as many entries as the excess takes, at least one.
		drop := max(1, len(out)*(len(b)-MaxBytes)/len(b))
		out = out[:max(1, len(out)-drop)]
	}
}

func (e Entry) bounded() Entry {
	for _, f := range []*string{&e.SHA, &e.Component, &e.Application, &e.Snapshot, &e.Release, &e.Status, &e.Started, &e.Finished, &e.PipelineRun, &e.Built, &e.Cause} {
		if len(*f) > maxFieldLength {
			*f = (*f)[:maxFieldLength]
		}
	}
	e.Unmatched = boundedUnmatched(e.Unmatched)
	return e
}

// Read returns the entries of the history ConfigMap name, newest first; a missing ConfigMap is
// an empty history.
func Read(ctx context.Context, c *konflux.Client, name string) ([]Entry, error) {
	u, err := c.Dynamic.Resource(ConfigMapsResource).Namespace(c.Namespace).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, c.APIError(fmt.Errorf("reading the release history: %w", err), "ConfigMap", "configmaps", name)
	}
	data, _, _ := unstructured.NestedString(u.Object, "data", Key)
	entries, err := Decode(data)
	if err != nil {
		return nil, fmt.Errorf("ConfigMap %s/%s: %w (fix or delete the key)", c.Namespace, name, err)
	}
	return entries, nil
}

// historyBackoff spreads out any number of pipelines finishing at once (a variable for tests).
var historyBackoff = konflux.ConflictBackoff()

// Append adds e to the history ConfigMap name with optimistic concurrency: read, prepend,
// update with the resourceVersion read, and on a conflict (or a racing creator) read again until
// ctx ends. It returns the number of entries kept.
func Append(ctx context.Context, c *konflux.Client, name string, e Entry, limit int) (int, error) {
	res := c.Dynamic.Resource(ConfigMapsResource).Namespace(c.Namespace)
	kept := 0
	err := konflux.RetryConflicts(ctx, historyBackoff, func() error {
		return appendOnce(ctx, c.Namespace, res, name, e, limit, &kept)
	})
	if err != nil {
		var fe *failure.Error
		if errors.As(err, &fe) || !isAPIStatus(err) {
			return 0, err
		}
		return 0, c.APIError(fmt.Errorf("appending to the release history: %w", err), "ConfigMap", "configmaps", name)
	}
	return kept, nil
}

// appendOnce is one read-prepend-write of AppendHistory; kept is set on success.
func appendOnce(ctx context.Context, namespace string, res dynamic.ResourceInterface, name string, e Entry, limit int, kept *int) error {
	u, err := res.Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		entries, b, err := Prepend(nil, e, limit)
		if err != nil {
			return err
		}
		cm := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "v1", "kind": "ConfigMap",
			"metadata": map[string]any{"name": name, "labels": map[string]any{"app.kubernetes.io/managed-by": "release-to-prod"}},
			"data":     map[string]any{Key: string(b)},
		}}
		if _, err := res.Create(ctx, cm, metav1.CreateOptions{FieldManager: "release-to-prod"}); err != nil {
			return err
		}
		*kept = len(entries)
		return nil
	}
	if err != nil {
		return err
	}
	data, _, _ := unstructured.NestedString(u.Object, "data", Key)
	old, err := Decode(data)
	if err != nil {
		return fmt.Errorf("ConfigMap %s/%s: %w (fix or delete the key; nothing was overwritten)", namespace, name, err)
	}
	for _, o := range old {
		if o.same(e.bounded()) {
			*kept = len(old)
			return nil
		}
	}
	entries, b, err := Prepend(old, e, limit)
	if err != nil {
		return err
	}
	if err := unstructured.SetNestedField(u.Object, string(b), "data", Key); err != nil {
		return fmt.Errorf("updating ConfigMap %s: %w", name, err)
	}
	if _, err := res.Update(ctx, u, metav1.UpdateOptions{FieldManager: "release-to-prod"}); err != nil {
		return err
	}
	*kept = len(entries)
	return nil
}

func isAPIStatus(err error) bool {
	var s apierrors.APIStatus
	return errors.As(err, &s)
}

// Released returns the newest history entry of component at sha that says it was released, if
// any.
func Released(entries []Entry, component, sha string) (Entry, bool) {
	for _, e := range entries {
		if e.SHA == sha && e.Component == component && e.Status == outcome.Succeeded {
			return e, true
		}
	}
	return Entry{}, false
}

// Latest returns the newest history entry of component, if any.
func Latest(entries []Entry, component string) (Entry, bool) {
	for _, e := range entries {
		if e.Component == component {
			return e, true
		}
	}
	return Entry{}, false
}
