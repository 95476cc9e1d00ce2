package history

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/release-to-prod/release-to-prod/pkg/clients/konflux"
)

func TestPrepend(t *testing.T) {
	var entries []Entry
	for i := range 250 {
		var err error
		entries, _, err = Prepend(entries, Entry{SHA: testSHA, Release: string(rune('a' + i%26)), Status: "Succeeded"}, 0)
		require.NoError(t, err)
	}
	assert.Len(t, entries, DefaultLimit)
	assert.Equal(t, string(rune('a'+249%26)), entries[0].Release, "newest first")

	big := strings.Repeat("x", 10_000)
	out, b, err := Prepend(entries, Entry{SHA: big, Component: big, Snapshot: big, Release: big, PipelineRun: big}, 10_000)
	require.NoError(t, err)
	assert.LessOrEqual(t, len(b), MaxBytes)
	assert.Len(t, out[0].SHA, maxFieldLength, "fields are bounded")

	many := make([]Entry, 5000)
	for i := range many {
		many[i] = Entry{SHA: testSHA, Component: strings.Repeat("c", 200), Snapshot: strings.Repeat("s", 200), Status: "Succeeded"}
	}
	out, b, err = Prepend(many, Entry{SHA: "new"}, 10_000)
	require.NoError(t, err)
	assert.LessOrEqual(t, len(b), MaxBytes, "stays well under the 1 MiB object limit")
	assert.Equal(t, "new", out[0].SHA)
	var back []Entry
	require.NoError(t, json.Unmarshal(b, &back))
	assert.Equal(t, out, back)
}

func TestHistoryLookups(t *testing.T) {
	h := []Entry{
		{SHA: "s2", Component: "other", Release: "r4", Status: "Succeeded"},
		{SHA: "s1", Component: "comp", Release: "r3", Status: "Failed"},
		{SHA: "s1", Component: "comp", Release: "r2", Status: "Succeeded"},
		{SHA: "s0", Component: "comp", Release: "r1", Status: "Succeeded"},
	}
	e, ok := Released(h, "comp", "s1")
	assert.True(t, ok)
	assert.Equal(t, "r2", e.Release, "only Succeeded entries count")
	_, ok = Released(h, "comp", "s9")
	assert.False(t, ok)
	_, ok = Released(h, "other", "s1")
	assert.False(t, ok)
	e, ok = Latest(h, "comp")
	assert.True(t, ok)
	assert.Equal(t, "r3", e.Release)
}

func TestDecode(t *testing.T) {
	got, err := Decode("")
	assert.NoError(t, err)
	assert.Empty(t, got)
	_, err = Decode(`{"not":"an array"}`)
	assert.ErrorContains(t, err, "not a JSON array")
	got, err = Decode(`[{"sha":"x","status":"Succeeded","pipelineRun":"pr-1"}]`)
	require.NoError(t, err)
	assert.Equal(t, []Entry{{SHA: "x", Status: "Succeeded", PipelineRun: "pr-1"}}, got)
}

func FuzzDecode(f *testing.F) {
	f.Add(`[{"sha":"x","status":"Succeeded"}]`)
	f.Add(`[]`)
	f.Add(`null`)
	f.Add(`[{"sha":1}]`)
	f.Fuzz(func(t *testing.T, data string) {
		entries, err := Decode(data)
		if err != nil {
			return
		}
		out, b, err := Prepend(entries, Entry{SHA: "new"}, 5)
		if err != nil {
			t.Fatal(err)
		}
		if len(out) > 5 || len(b) > MaxBytes && len(out) > 1 {
			t.Fatalf("history not bounded: %d entries, %d bytes", len(out), len(b))
		}
	})
}

// TestAppendOutlastsContention: a writer that meets many more conflicts than a backoff's Steps
// would allow still lands its entry; only the context ends the retries, and then the loss is an
// error naming the attempts.
func TestAppendOutlastsContention(t *testing.T) {
	saved := historyBackoff
	historyBackoff = wait.Backoff{Duration: time.Microsecond, Factor: 1.5, Jitter: 1, Cap: 50 * time.Microsecond, Steps: saved.Steps}
	t.Cleanup(func() { historyBackoff = saved })

	for _, tc := range []struct {
		name      string
		conflicts int
		timeout   time.Duration
		wantErr   string
	}{
		{name: "a few conflicts", conflicts: 3, timeout: time.Minute},
		{name: "more conflicts than steps to the cap", conflicts: 200, timeout: time.Minute},
		{name: "conflicts until the deadline", conflicts: math.MaxInt, timeout: 50 * time.Millisecond, wantErr: "gave up after"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cm := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
				"metadata": map[string]any{"name": "release-history", "namespace": "ns"}, "data": map[string]any{Key: "[]"}}}
			dyn := dynamicfake.NewSimpleDynamicClient(runtime.NewScheme(), cm)
			left := tc.conflicts
			dyn.PrependReactor("update", "configmaps", func(k8stesting.Action) (bool, runtime.Object, error) {
				if left > 0 {
					left--
					return true, nil, apierrors.NewConflict(schema.GroupResource{Resource: "configmaps"}, "release-history", errors.New("the object has been modified"))
				}
				return false, nil, nil
			})
			ctx, cancel := context.WithTimeout(context.Background(), tc.timeout)
			defer cancel()
			n, err := Append(ctx, &konflux.Client{Dynamic: dyn, Namespace: "ns"}, "release-history", Entry{SHA: testSHA, Status: "Succeeded"}, 0)
			if tc.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.wantErr)
				assert.True(t, apierrors.IsConflict(err), "the last conflict is kept: %v", err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, 1, n)
			got, err := dyn.Resource(ConfigMapsResource).Namespace("ns").Get(ctx, "release-history", metav1.GetOptions{})
			require.NoError(t, err)
			data, _, _ := unstructured.NestedString(got.Object, "data", Key)
			entries, err := Decode(data)
			require.NoError(t, err)
			require.Len(t, entries, 1)
		})
	}
}
