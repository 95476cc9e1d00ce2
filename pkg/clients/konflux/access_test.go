package konflux

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/release-to-prod/release-to-prod/pkg/step/failure"
)

func TestReleaseOptionsParse(t *testing.T) {
	tests := []struct {
		name    string
		opts    ReleaseOptions
		want    ReleaseChoices
		wantErr string // in the message; the failure is invalid input
	}{
		{name: "defaults: the application owns the release, block", opts: ReleaseOptions{},
			want: ReleaseChoices{Owner: Owner{Application: "app"}}},
		{name: "a ComponentGroup replaces the application", opts: ReleaseOptions{ComponentGroup: "group", AutoRelease: "observe", AllowOutOfOrder: "true"},
			want: ReleaseChoices{Owner: Owner{ComponentGroup: "group"}, Observe: true, AllowOutOfOrder: true}},
		{name: "bad ComponentGroup", opts: ReleaseOptions{ComponentGroup: "Not_A_Name"}, wantErr: "COMPONENT_GROUP"},
		{name: "bad AUTO_RELEASE", opts: ReleaseOptions{AutoRelease: "sometimes"}, wantErr: "AUTO_RELEASE"},
		{name: "bad ALLOW_OUT_OF_ORDER", opts: ReleaseOptions{AllowOutOfOrder: "perhaps"}, wantErr: "ALLOW_OUT_OF_ORDER"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.opts.Parse("app")
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				a, _ := failure.Explain(err)
				assert.Equal(t, failure.InvalidInput, a.ID)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestConnectRefusesNoTimeLimit(t *testing.T) {
	for _, timeout := range []time.Duration{0, -time.Second} {
		ctx, cancel, kc, err := Access{Kubeconfig: "/nonexistent"}.Connect(context.Background(), "ns", timeout)
		cancel()
		require.Error(t, err)
		assert.Contains(t, err.Error(), "TIMEOUT")
		assert.Nil(t, kc)
		_, bounded := ctx.Deadline()
		assert.False(t, bounded)
	}
}
