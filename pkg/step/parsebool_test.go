package step_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/release-to-prod/release-to-prod/pkg/actions/notify"
	"github.com/release-to-prod/release-to-prod/pkg/actions/release"
	"github.com/release-to-prod/release-to-prod/pkg/gates/alerts"
	"github.com/release-to-prod/release-to-prod/pkg/gates/appinterface"
	"github.com/release-to-prod/release-to-prod/pkg/gates/vulnerabilities"
	"github.com/release-to-prod/release-to-prod/pkg/step"
	"github.com/release-to-prod/release-to-prod/pkg/step/failure"
)

func TestParseBool(t *testing.T) {
	tests := []struct {
		in      string
		def     bool
		want    bool
		wantErr bool
	}{
		{in: "", def: true, want: true},
		{in: "", def: false, want: false},
		{in: "  ", def: true, want: true},
		{in: "true", want: true},
		{in: "TRUE", want: true},
		{in: " True\n", want: true},
		{in: "false", def: true, want: false},
		{in: "False", def: true, want: false},
		{in: "yes", wantErr: true},
		{in: " yes ", wantErr: true},
		{in: "no", def: true, wantErr: true},
		{in: "1", wantErr: true},
		{in: "0", wantErr: true},
		{in: "t", wantErr: true},
		{in: "on", wantErr: true},
		{in: "maybe", wantErr: true},
		{in: "true false", wantErr: true},
	}
	for _, tt := range tests {
		got, err := step.ParseBool("dry_run", tt.in, tt.def)
		if tt.wantErr {
			a, ok := failure.Explain(err)
			require.True(t, ok, "%q: unclassified error %v", tt.in, err)
			assert.Equal(t, failure.InvalidInput, a.ID, tt.in)
			assert.Contains(t, err.Error(), "dry_run", tt.in)
			assert.Contains(t, err.Error(), "is not true or false", tt.in)
			continue
		}
		require.NoError(t, err, tt.in)
		assert.Equal(t, tt.want, got, tt.in)
	}
}

// TestBoolWordsAlikeInEveryStep runs the steps' bodies with "yes" for their switches: skip
// and dry_run read the same words, so each step refuses it the same way before doing anything
// (exit 2, the setting named), and notify, which never fails a release, warns and goes on.
func TestBoolWordsAlikeInEveryStep(t *testing.T) {
	sha := strings.Repeat("a", 40)
	checkout := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(checkout, "saas.yml"), []byte("{}\n"), 0o600))
	tests := []struct {
		name     string
		run      func(args []string, out *bytes.Buffer) int
		args     []string
		wantCode int
		wantOut  string
	}{
		{name: "check-vulnerabilities skip=yes",
			run: func(a []string, out *bytes.Buffer) int {
				return step.Run(context.Background(), "check-vulnerabilities", a, out, &vulnerabilities.Config{}, vulnerabilities.Run)
			},
			args:     []string{"--staging-image=quay.io/ns/repo", "--pinned-digest=sha256:" + strings.Repeat("0", 64), "--skip=yes"},
			wantCode: step.ExitBadArgs, wantOut: `skip "yes" is not true or false`},
		{name: "check-alerts skip=yes",
			run: func(a []string, out *bytes.Buffer) int {
				return step.Run(context.Background(), "check-alerts", a, out, &alerts.Config{}, alerts.Run)
			},
			args:     []string{"--alertmanager-url=http://127.0.0.1:1", "--skip=yes"},
			wantCode: step.ExitBadArgs, wantOut: `skip "yes" is not true or false`},
		{name: "check-app-interface skip=yes",
			run: func(a []string, out *bytes.Buffer) int {
				return step.Run(context.Background(), "check-app-interface", a, out, &appinterface.Config{}, appinterface.Run)
			},
			args:     []string{"--commit-sha=" + sha, "--saas-file=saas.yml", "--checkout-dir=" + checkout, "--skip=yes"},
			wantCode: step.ExitBadArgs, wantOut: `SKIP "yes" is not true or false`},
		{name: "create-release dry_run=yes",
			run: func(a []string, out *bytes.Buffer) int {
				return step.Run(context.Background(), "create-release", a, out, &release.Config{}, release.Run)
			},
			args: []string{"--commit-sha=" + sha, "--component=c", "--namespace=n", "--application=a",
				"--snapshot=s", "--release-plan=p", "--kubeconfig=/nonexistent", "--dry-run=yes"},
			wantCode: step.ExitBadArgs, wantOut: `DRY_RUN "yes" is not true or false`},
		{name: "notify dry_run=yes",
			run: func(a []string, out *bytes.Buffer) int {
				return step.Run(context.Background(), "notify", a, out, &notify.Config{}, notify.Run)
			},
			args:     []string{"--status=Succeeded", "--dry-run=yes"},
			wantCode: step.ExitOK, wantOut: `! DRY_RUN "yes" is not true or false: taken as false`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			code := tt.run(append(tt.args, "--results-dir="+t.TempDir(), "--log-format=text"), &out)
			assert.Equal(t, tt.wantCode, code, out.String())
			assert.Contains(t, out.String(), tt.wantOut)
		})
	}
}
