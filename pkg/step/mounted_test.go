package step

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/release-to-prod/release-to-prod/pkg/step/failure"
)

type mountedConfig struct {
	TokenFile   string `env:"TOKEN_FILE"`
	TokenSecret string `param:"monitoring_token_secret" env:"TOKEN_SECRET, default=release-to-prod-monitoring-token"`
}

// TestMountedResolve: what a step makes of the folder the kubelet mounts for an optional Secret
// or ConfigMap volume (empty when the object is absent; its keys as files, beside the kubelet's
// own ..data entries, when present).
func TestMountedResolve(t *testing.T) {
	tests := []struct {
		name       string
		kind       string
		object     string            // the name the run gave
		keys       map[string]string // the object's keys; nil: absent (an empty mount)
		key        string
		alternates []string
		wantFile   string // the key read; "" for not configured
		wantErr    []string
		notConf    string
	}{
		{name: "present", kind: "Secret", object: "my-token", keys: map[string]string{"token": "t"}, key: "token", wantFile: "token"},
		{name: "default-named and absent: not configured", kind: "Secret", object: "release-to-prod-monitoring-token", key: "token",
			notConf: "not configured (no Secret release-to-prod-monitoring-token in this namespace; monitoring_token_secret names another)"},
		{name: "default-named, present, without the key: invalid", kind: "Secret", object: "release-to-prod-monitoring-token",
			keys: map[string]string{"other": "x"}, key: "token",
			wantErr: []string{"Secret release-to-prod-monitoring-token (param monitoring_token_secret), key token: has no key token (its keys: other)",
				"or set monitoring_token_key to the key that holds it"}},
		{name: "user-named and absent: invalid, with the command that creates it", kind: "Secret", object: "my-token", key: "token",
			wantErr: []string{"Secret my-token (param monitoring_token_secret), key token: does not exist in this namespace",
				"kubectl create secret generic my-token --from-file=token=<file> -n <namespace>", "or set monitoring_token_secret to the Secret that holds it"}},
		{name: "user-named, without the key: invalid, listing its keys", kind: "Secret", object: "my-token", keys: map[string]string{"a": "1", ".b": "2"}, key: "token",
			wantErr: []string{"has no key token (its keys: .b, a)"}},
		{name: "ConfigMap absent", kind: "ConfigMap", object: "my-ca", key: "ca-bundle.crt",
			wantErr: []string{"ConfigMap my-ca (param monitoring_token_secret), key ca-bundle.crt: does not exist", "kubectl create configmap my-ca --from-file=ca-bundle.crt=<file>"}},
		{name: "alternate key of the family", kind: "ConfigMap", object: "service-ca", keys: map[string]string{"ca.crt": "pem"}, key: "ca-bundle.crt",
			alternates: []string{"ca.crt", "ca-bundle.crt"}, wantFile: "ca.crt"},
		{name: "no alternate for a key outside the family", kind: "ConfigMap", object: "service-ca", keys: map[string]string{"ca.crt": "pem"}, key: "my.pem",
			alternates: []string{"ca.crt", "ca-bundle.crt"}, wantErr: []string{"has no key my.pem (its keys: ca.crt)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "mount")
			require.NoError(t, os.MkdirAll(filepath.Join(dir, "..2026_12_02"), 0o755)) // the kubelet's own entries
			for k, v := range tt.keys {
				require.NoError(t, os.WriteFile(filepath.Join(dir, k), []byte(v), 0o600))
			}
			cfg := &mountedConfig{}
			m := MountOf(cfg, tt.kind, "TOKEN_SECRET", tt.object, filepath.Join(dir, tt.key)).WithKeyParam("monitoring_token_key")
			m.Alternates = tt.alternates
			file, err := m.Resolve()
			if tt.wantErr != nil {
				require.Error(t, err)
				var fe *failure.Error
				require.True(t, errors.As(err, &fe))
				assert.Equal(t, failure.MountMissing, fe.ID)
				a, ok := failure.Explain(err)
				require.True(t, ok)
				for _, w := range tt.wantErr {
					assert.Contains(t, err.Error()+"\n"+a.Cause+"\n"+a.Fix, w)
				}
				assert.Equal(t, ExitBadArgs, exitCode(err), "invalid input")
				return
			}
			require.NoError(t, err)
			if tt.wantFile == "" {
				assert.Empty(t, file)
				assert.Equal(t, tt.notConf, m.NotConfigured())
				return
			}
			assert.Equal(t, filepath.Join(dir, tt.wantFile), file)
		})
	}
}

// TestMountedDirectFile: a file given directly (a laptop; no object named) is returned as is,
// for its reader to say what is wrong with it; no file, nothing configured.
func TestMountedDirectFile(t *testing.T) {
	m := Mounted{Kind: "Secret", File: "/nonexistent/token"}
	f, err := m.Resolve()
	require.NoError(t, err)
	assert.Equal(t, "/nonexistent/token", f)
	assert.Equal(t, "file /nonexistent/token", m.Where())
	f, err = Mounted{Kind: "Secret", Name: "x"}.Resolve()
	require.NoError(t, err)
	assert.Empty(t, f)
	// A step that names a setting its config lacks gets the error from Resolve, also when no
	// file is given.
	for _, file := range []string{"f", ""} {
		_, err = MountOf(&mountedConfig{}, "Secret", "NO_SUCH", "x", file).Resolve()
		require.Error(t, err)
		assert.Contains(t, err.Error(), "no setting NO_SUCH")
	}
}
