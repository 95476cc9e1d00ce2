package appinterface

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	testSHA  = "3f786850e387550fdab836ed7e6dc881de23001b"
	saasPath = "data/services/aa/cicd/saas.yml"
)

// tree builds a checkout in a temp dir: the valid app-interface fixture, then the files of
// testdata/cases/<overlay> on top of it.
func tree(t testing.TB, overlay string) string {
	t.Helper()
	dir := t.TempDir()
	copyTree(t, filepath.Join("testdata", "app-interface"), dir)
	if overlay != "" {
		copyTree(t, filepath.Join("testdata", "cases", overlay), dir)
	}
	return dir
}

func copyTree(t testing.TB, from, to string) {
	t.Helper()
	require.NoError(t, filepath.WalkDir(from, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(from, p)
		if err != nil {
			return err
		}
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(to, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(to, rel), b, 0o644)
	}))
}

func validate(t testing.TB, dir, file string, opts Options) (*Report, error) {
	t.Helper()
	c, err := OpenCheckout(dir)
	require.NoError(t, err)
	defer c.Close()
	if opts.CommitSHA == "" {
		opts.CommitSHA = testSHA
	}
	return Validate(c, file, opts)
}

func problems(r *Report) string {
	var b strings.Builder
	for _, p := range r.Problems {
		b.WriteString(string(p.Kind) + " " + p.String() + "\n")
	}
	return b.String()
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name    string
		overlay string
		target  string
		sha     string
		setup   func(t *testing.T, dir string)
		// want lists fragments of the problems, one entry per problem, in order; each entry
		// is "kind file:line: fragment" matched as a prefix of kind+location and a substring
		// of the message.
		want     []string
		checked  []string // labels of production targets
		warnings []string
	}{
		{name: "valid", checked: []string{"aa-backend@aa-production"}},
		{name: "wrong ref", overlay: "wrong-ref", checked: []string{"aa-backend@aa-production"},
			want: []string{"ref-mismatch " + saasPath + ":50: |production target aa-backend@aa-production has ref 9c1185a5c5e9fc54612808977ee8f548b2258d31, want " + testSHA}},
		{name: "disabled target", overlay: "disabled", checked: []string{"aa-backend@aa-production"},
			want: []string{"invalid " + saasPath + ":51: |production target aa-backend@aa-production has disable: true"}},
		{name: "deleted target", overlay: "deleted", checked: []string{"aa-backend@aa-production"},
			want: []string{"invalid " + saasPath + ":51: |has delete: true"}},
		{name: "broken ref", overlay: "broken-ref", checked: []string{"aa-backend@aa-production"},
			want: []string{"invalid " + saasPath + ":18: |$ref /dependencies/slack/coreos-workspace.yml does not resolve: data/dependencies/slack/coreos-workspace.yml does not exist in the checkout"}},
		{name: "broken namespace ref fails closed", overlay: "broken-namespace-ref",
			want: []string{
				"invalid " + saasPath + ":49: |$ref /services/aa/namespaces/production.yml does not resolve",
				"invalid " + saasPath + ":32: |no production target found",
			}},
		{name: "blocked version", overlay: "blocked", checked: []string{"aa-backend@aa-production"},
			want: []string{"blocked-version data/services/aa/app.yml:19: |commit " + testSHA + " is in blockedVersions of code component \"aa-backend\""}},
		{name: "yaml syntax error", overlay: "yaml-syntax",
			want: []string{"invalid " + saasPath + ":36: |YAML syntax error"}},
		{name: "missing required fields", overlay: "missing-fields",
			want: []string{
				"invalid " + saasPath + ":2: |missing required field \"pipelinesProvider\"",
				"invalid " + saasPath + ":30: |resourceTemplates[0] \"aa-backend\": missing required field \"url\"",
				"invalid " + saasPath + ":44: |resourceTemplates[0] \"aa-backend\": targets[1]: missing required field \"ref\"",
			}, checked: []string{"aa-backend@aa-production"}},
		{name: "dotdot ref", overlay: "dotdot-ref", checked: []string{"aa-backend@aa-production"},
			want: []string{"invalid " + saasPath + ":18: |$ref \"/../../../etc/passwd\": path \"../../../etc/passwd\" contains '..'"}},
		{name: "symlink escape", setup: func(t *testing.T, dir string) {
			outside := filepath.Join(t.TempDir(), "prod.yml")
			require.NoError(t, os.WriteFile(outside, []byte("name: evil\n"), 0o644))
			ns := filepath.Join(dir, "data/services/aa/namespaces/prod.yml")
			require.NoError(t, os.Remove(ns))
			require.NoError(t, os.Symlink(outside, ns))
		}, want: []string{
			"invalid " + saasPath + ":49: |resolves outside the checkout",
			"invalid " + saasPath + ":32: |no production target found",
		}},
		{name: "promotion auto without subscribe", overlay: "auto-without-subscribe", checked: []string{"aa-backend@aa-production"},
			want: []string{"invalid " + saasPath + ":52: |promotion.auto is true but promotion.subscribe is not set"}},
		{name: "bad parameters", overlay: "bad-parameters", checked: []string{"aa-backend@aa-production"},
			want: []string{
				"invalid " + saasPath + ":56: |parameter name \"image-tag\" is not valid",
				"invalid " + saasPath + ":57: |parameter REPLICAS must have a scalar value",
			}},
		{name: "duplicate ref key", overlay: "duplicate-ref", checked: []string{"aa-backend@aa-production"},
			want: []string{
				"invalid " + saasPath + ":51: |key \"ref\" is defined twice (first on line 50)",
			}},
		{name: "wrong schema", overlay: "wrong-schema", checked: []string{"aa-backend@aa-production"},
			want: []string{"invalid " + saasPath + ":2: |$schema must be /app-sre/saas-file-2.yml, got \"/app-sre/saas-file-1.yml\""}},
		{name: "target in its own file", overlay: "target-file", checked: []string{"production@aa-production"}},
		{name: "production told by environment label", overlay: "env-by-label", checked: []string{"aa-backend@aa-production"}},
		{name: "upstream and a typo warned", overlay: "upstream", checked: []string{"aa-backend@aa-production"},
			warnings: []string{saasPath + ":55: resourceTemplates[0] \"aa-backend\": targets[1]: unknown field \"disabled\""}},
		{name: "TARGET names stage", target: "/services/aa/namespaces/stage.yml", checked: []string{"aa-backend@aa-stage"},
			want: []string{"ref-mismatch " + saasPath + ":42: |has ref main, want " + testSHA}},
		{name: "TARGET by namespace name", target: "aa-production", checked: []string{"aa-backend@aa-production"}},
		{name: "TARGET by data path", target: "data/services/aa/namespaces/prod.yml", checked: []string{"aa-backend@aa-production"}},
		{name: "TARGET matches nothing", target: "aa-nope",
			want: []string{"invalid " + saasPath + ": |TARGET \"aa-nope\" matches no target"}},
		{name: "all-digit ref parses as a number", setup: func(t *testing.T, dir string) {
			p := filepath.Join(dir, saasPath)
			b, err := os.ReadFile(p)
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(p, []byte(strings.Replace(string(b), "ref: "+testSHA, "ref: 1111111111111111111111111111111111111111", 1)), 0o644))
		}, checked: []string{"aa-backend@aa-production"},
			want: []string{"invalid " + saasPath + ":50: |ref must be a string, got a number: quote it"}},
		{name: "other sha", sha: "1111111111111111111111111111111111111111", checked: []string{"aa-backend@aa-production"},
			want: []string{"ref-mismatch " + saasPath + ":50: |has ref " + testSHA + ", want 1111111111111111111111111111111111111111"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := tree(t, tt.overlay)
			if tt.setup != nil {
				tt.setup(t, dir)
			}
			rep, err := validate(t, dir, saasPath, Options{CommitSHA: tt.sha, Target: tt.target})
			require.NoError(t, err)
			got := problems(rep)
			require.Len(t, rep.Problems, len(tt.want), got)
			for i, w := range tt.want {
				loc, frag, _ := strings.Cut(w, "|")
				line := string(rep.Problems[i].Kind) + " " + rep.Problems[i].String()
				assert.True(t, strings.HasPrefix(line, loc), "problem %d: want prefix %q, got %q", i, loc, line)
				assert.Contains(t, rep.Problems[i].Msg, frag, "problem %d", i)
			}
			var labels []string
			for _, c := range rep.Checked {
				labels = append(labels, c.Label())
			}
			assert.Equal(t, tt.checked, labels)
			var warns []string
			for _, w := range rep.Warnings {
				warns = append(warns, w.String())
			}
			assert.Equal(t, len(tt.warnings), len(warns), "%v", warns)
			for i := range min(len(tt.warnings), len(warns)) {
				assert.Contains(t, warns[i], tt.warnings[i])
			}
		})
	}
}
