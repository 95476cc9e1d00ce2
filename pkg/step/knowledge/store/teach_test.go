package store

import (
	"context"
	"errors"
	"math"
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

	"github.com/release-to-prod/release-to-prod/pkg/step/knowledge"
)

// A team teaching at once: every Teach must land however many others get in first, until its
// context ends (it kept only four attempts, and the fifth of six people teaching at once failed).
func TestTeachOutlastsContention(t *testing.T) {
	saved := teachBackoff
	teachBackoff = wait.Backoff{Duration: time.Microsecond, Factor: 1.5, Jitter: 1, Cap: 50 * time.Microsecond, Steps: saved.Steps}
	t.Cleanup(func() { teachBackoff = saved })

	gr := schema.GroupResource{Resource: "configmaps"}
	tests := []struct {
		name     string
		existing bool   // the ConfigMap exists before (else Teach creates it)
		verb     string // the call answered with a conflict
		err      func() error
		times    int
		timeout  time.Duration
		wantErr  string
	}{
		{name: "a few conflicting updates", existing: true, verb: "update", times: 5, timeout: time.Minute,
			err: func() error {
				return apierrors.NewConflict(gr, "release-knowledge", errors.New("the object has been modified"))
			}},
		{name: "more conflicts than steps to the backoff's cap", existing: true, verb: "update", times: 200, timeout: time.Minute,
			err: func() error {
				return apierrors.NewConflict(gr, "release-knowledge", errors.New("the object has been modified"))
			}},
		{name: "racing creators", verb: "create", times: 5, timeout: time.Minute,
			err: func() error { return apierrors.NewAlreadyExists(gr, "release-knowledge") }},
		{name: "conflicts until the deadline", existing: true, verb: "update", times: math.MaxInt, timeout: 50 * time.Millisecond,
			err: func() error {
				return apierrors.NewConflict(gr, "release-knowledge", errors.New("the object has been modified"))
			},
			wantErr: "gave up after"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var objects []runtime.Object
			if tt.existing {
				objects = append(objects, &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
					"metadata": map[string]any{"name": "release-knowledge", "namespace": "ns"},
					"data":     map[string]any{knowledge.LearnedFixesKey: exampleLearnedFixes}}})
			}
			dyn := dynamicfake.NewSimpleDynamicClient(runtime.NewScheme(), objects...)
			left := tt.times
			dyn.PrependReactor(tt.verb, "configmaps", func(k8stesting.Action) (bool, runtime.Object, error) {
				if left > 0 {
					left--
					return true, nil, tt.err()
				}
				return false, nil, nil
			})
			ctx, cancel := context.WithTimeout(context.Background(), tt.timeout)
			defer cancel()
			fix := knowledge.LearnedFix{Match: knowledge.Match{Fingerprint: "000c0ffee001"}, Cause: "cause", Fix: "fix", By: "alice"}
			_, err := Teach(ctx, dyn, "ns", "release-knowledge", fix)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				assert.True(t, apierrors.IsConflict(err), "the last conflict is kept: %v", err)
				return
			}
			require.NoError(t, err)
			got, err := dyn.Resource(configMaps).Namespace("ns").Get(ctx, "release-knowledge", metav1.GetOptions{})
			require.NoError(t, err)
			k, warns := Parse(map[string]string{knowledge.LearnedFixesKey: got.Object["data"].(map[string]any)[knowledge.LearnedFixesKey].(string)})
			require.Empty(t, warns)
			require.NotEmpty(t, k.LearnedFixes)
			assert.Equal(t, "000c0ffee001", k.LearnedFixes[0].Match.Fingerprint, "the fix taught is first")
		})
	}
}
