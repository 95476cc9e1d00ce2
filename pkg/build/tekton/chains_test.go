package tekton

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestChainsTypeHint(t *testing.T) {
	for _, tc := range []struct{ name, want string }{
		{"IMAGE_URL", "*IMAGE_URL"},
		{"IMAGE_DIGEST", "*IMAGE_DIGEST"},
		{"FOO_IMAGE_URL", "*IMAGE_URL"},
		{"STAGINGIMAGE_DIGEST", "*IMAGE_DIGEST"},
		{"IMAGES", "IMAGES"},
		{"ARTIFACT_URI", "*ARTIFACT_URI"},
		{"X_ARTIFACT_DIGEST", "*ARTIFACT_DIGEST"},
		{"ARTIFACT_OUTPUTS", "*ARTIFACT_OUTPUTS"},
		{"X_ARTIFACT_OUTPUTS", "*ARTIFACT_OUTPUTS"},
		{"SOURCE_ARTIFACT_INPUTS", "*ARTIFACT_INPUTS"},
		// Chains matches whole names and suffixes, case-sensitively.
		{"STAGING_IMAGE", ""},
		{"PINNED_DIGEST", ""},
		{"PLATFORM_DIGESTS", ""},
		{"IMAGE_URL_OLD", ""},
		{"ALL_IMAGES", ""},
		{"image_url", ""},
		{"", ""},
	} {
		if got := ChainsTypeHint(tc.name); got != tc.want {
			t.Errorf("ChainsTypeHint(%q) = %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestCheckChains: every place a result is declared is checked, each offending result is one
// error naming its file, and a step result carried by a task result is reported once.
func TestCheckChains(t *testing.T) {
	const step = "{name: s, image: x, results: [{name: IMAGE_URL}, {name: STEP_IMAGE_DIGEST}]}"
	for _, tc := range []struct {
		name, yaml string
		want       []string
	}{
		{"task and step results", "apiVersion: tekton.dev/v1\nkind: Task\nmetadata: {name: t}\nspec: {results: [{name: IMAGE_URL}, {name: STAGING_IMAGE}], steps: [" + step + "]}\n",
			[]string{"f.yaml: Task t: result IMAGE_URL matches Tekton Chains' type hinting (*IMAGE_URL)",
				"f.yaml: Task t step s: result STEP_IMAGE_DIGEST matches Tekton Chains' type hinting (*IMAGE_DIGEST)"}},
		{"stepaction", "apiVersion: tekton.dev/v1beta1\nkind: StepAction\nmetadata: {name: a}\nspec: {image: x, results: [{name: IMAGES}]}\n",
			[]string{"f.yaml: StepAction a: result IMAGES matches Tekton Chains' type hinting (IMAGES)"}},
		{"pipeline and embedded task", "apiVersion: tekton.dev/v1\nkind: Pipeline\nmetadata: {name: p}\nspec: {results: [{name: X_ARTIFACT_OUTPUTS, value: v}], finally: [{name: f, taskSpec: {results: [{name: ARTIFACT_URI}], steps: [{name: s, image: x}]}}]}\n",
			[]string{"f.yaml: Pipeline p: result X_ARTIFACT_OUTPUTS matches Tekton Chains' type hinting (*ARTIFACT_OUTPUTS)",
				"f.yaml: Pipeline p task f: result ARTIFACT_URI matches Tekton Chains' type hinting (*ARTIFACT_URI)"}},
		{"renamed", "apiVersion: tekton.dev/v1\nkind: Task\nmetadata: {name: t}\nspec: {results: [{name: STAGING_IMAGE}, {name: PINNED_DIGEST}], steps: [{name: s, image: x}]}\n", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			obj, err := Decode([]byte(tc.yaml))
			require.NoError(t, err)
			r := NewRepo(".")
			require.NoError(t, r.add("f.yaml", obj))
			err = r.CheckChains()
			if tc.want == nil {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			errs := err.(interface{ Unwrap() []error }).Unwrap()
			require.Len(t, errs, len(tc.want), "%v", err)
			for i, w := range tc.want {
				var fe *FileError
				require.ErrorAs(t, errs[i], &fe)
				assert.Contains(t, errs[i].Error(), w)
			}
		})
	}
}
