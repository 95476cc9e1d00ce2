package contract

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	"sigs.k8s.io/yaml"

	"github.com/release-to-prod/release-to-prod/pkg/build/tekton"
	"github.com/release-to-prod/release-to-prod/pkg/gates/input"
	"github.com/release-to-prod/release-to-prod/pkg/gates/input/params"
	"github.com/release-to-prod/release-to-prod/pkg/step"
)

// TestPaCPlaceholdersStopAtCheckInput: the PaC run as shipped, its PaC variables filled in, stops
// at check-input — the Pipeline's first step — with a message and an INVALID_PARAMS result that
// name every placeholder; with them set it passes. (test/cluster/world runs it on the node.)
func TestPaCPlaceholdersStopAtCheckInput(t *testing.T) {
	files, err := tekton.PaCRunFiles(root)
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			b, err := os.ReadFile(f)
			require.NoError(t, err)
			var pr v1.PipelineRun
			require.NoError(t, yaml.UnmarshalStrict(b, &pr))
			placeholders := tekton.PaCPlaceholders(&pr)
			require.NotEmpty(t, placeholders, "the template has placeholders (its comment block lists them)")

			args := func(set map[string]string) []string {
				fields, err := step.EnvFields(&params.Config{})
				require.NoError(t, err)
				byParam := map[string]string{}
				for _, p := range pr.Spec.Params {
					// What PaC fills in for a push.
					byParam[p.Name] = strings.NewReplacer("{{ revision }}", "3f786850e387550fdab836ed7e6dc881de23001b",
						"{{ target_namespace }}", "tenant", "{{ repo_url }}", "https://github.com/org/component").Replace(p.Value.StringVal)
				}
				for k, v := range set {
					byParam[k] = v
				}
				out := []string{"--results-dir=" + t.TempDir()}
				for _, fl := range fields {
					if v, ok := byParam[fl.Param()]; ok {
						out = append(out, "--"+fl.Flag()+"="+v)
					}
				}
				return out
			}

			var out bytes.Buffer
			a := args(nil)
			code := step.Run(context.Background(), "check-input", a, &out, &params.Config{}, input.Run[*params.Config])
			assert.Equal(t, step.ExitBadArgs, code, "check-input rejects the run as shipped:\n%s", out.String())
			results, err := os.ReadFile(filepath.Join(strings.TrimPrefix(a[0], "--results-dir="), string(input.ResultInvalid)))
			require.NoError(t, err, "check-input wrote %s", input.ResultInvalid)
			for _, name := range placeholders {
				assert.Contains(t, out.String(), name+" (", "the message names placeholder %s", name)
				assert.Contains(t, string(results), name+" (", "%s names placeholder %s", input.ResultInvalid, name)
			}
			assert.Equal(t, len(placeholders), strings.Count(string(results), "is a placeholder"), "each placeholder is reported as one")

			out.Reset()
			set := map[string]string{"component": "backend", "application": "app", "alertmanager_url": "https://alertmanager.example.com",
				"saas_file": "data/services/app/cicd/saas.yml", "skip_app_interface": "true"}
			for _, name := range placeholders {
				_, ok := set[name]
				require.True(t, ok, "a value for placeholder %s in this test", name)
			}
			code = step.Run(context.Background(), "check-input", args(set), &out, &params.Config{}, input.Run[*params.Config])
			assert.Equal(t, step.ExitOK, code, "with the placeholders set, check-input passes:\n%s", out.String())
		})
	}
}
