package dockerconfig

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLookup(t *testing.T) {
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	cfg := `{"auths":{
		"quay.io":{"auth":"` + b64("host:h") + `"},
		"https://quay.io/redhat-user-workloads/aap-aa-tenant":{"auth":"` + b64("tenant:t") + `"},
		"registry.example/team":{"username":"u","password":"p"},
		"bad.example":{"auth":"!!!"}
	}}`
	path := filepath.Join(t.TempDir(), "config.json")
	require.NoError(t, os.WriteFile(path, []byte(cfg), 0o600))
	tests := []struct {
		repo   string
		want   Credentials
		wantOK bool
		err    string
	}{
		{repo: "quay.io/redhat-user-workloads/aap-aa-tenant/app/comp", want: Credentials{"tenant", "t"}, wantOK: true},
		{repo: "quay.io/other/repo", want: Credentials{"host", "h"}, wantOK: true},
		{repo: "registry.example/team/x", want: Credentials{"u", "p"}, wantOK: true},
		{repo: "registry.example/teamx/y"},
		{repo: "ghcr.io/x"},
		{repo: "bad.example/x", err: "not base64"},
	}
	for _, tt := range tests {
		t.Run(tt.repo, func(t *testing.T) {
			got, ok, err := Lookup(path, tt.repo)
			if tt.err != "" {
				require.ErrorContains(t, err, tt.err)
				assert.NotContains(t, err.Error(), "!!!")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.wantOK, ok)
			assert.Equal(t, tt.want, got)
		})
	}
	require.NoError(t, os.WriteFile(path, []byte(`{"auths": {"quay.io": {"auth": "c2VjcmV0`), 0o600))
	_, _, err := Lookup(path, "quay.io/x")
	require.ErrorContains(t, err, "not valid JSON")
	assert.NotContains(t, err.Error(), "c2VjcmV0")
}
