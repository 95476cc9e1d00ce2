package tekton

import (
	"errors"
	"fmt"
	"strings"

	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
)

// Tekton Chains (on in hosted Konflux: OCI storage, in-toto provenance, deep inspection of
// PipelineRuns) reads a run's results by their names. A TaskRun or PipelineRun whose results
// match this "type hinting" is taken to have built the artifact they name: Chains signs that
// image and attaches the signature and a provenance naming this run as its builder (or fails
// signing, loudly, where it may not push). A release pipeline builds nothing, so none of its
// results may match.
//
// The names come from tektoncd/chains v0.26.2 (the version test/tools/chains pins, whose
// chains-subjects tool runs Chains' own code over the same YAML and keeps this list honest):
//   - pkg/artifacts/signable.go: OCIImageURLResultName "IMAGE_URL" and OCIImageDigestResultName
//     "IMAGE_DIGEST" as suffixes (ExtractOCIImagesFromResults pairs *IMAGE_URL with
//     *IMAGE_DIGEST of the same prefix), OCIImagesResultName "IMAGES" as a whole name (a list of
//     references), "ARTIFACT_URI"/"ARTIFACT_DIGEST" as suffixes
//     (ExtractSignableTargetFromResults), ArtifactsOutputsResultName "ARTIFACT_OUTPUTS" and
//     ArtifactsInputsResultName "ARTIFACT_INPUTS" as suffixes (object results,
//     ExtractStructuredTargetFromResults, ExtractBuildArtifactsFromResults,
//     RetrieveMaterialsFromStructuredResults);
//   - pkg/chains/formats/slsa/extract/extract.go: SubjectDigests and SubjectsFromBuildArtifact,
//     which every provenance format calls, built on the functions above.
//
// Chains matches case-sensitively, and so does this check. It is stricter than Chains in one
// way, on purpose: one half of a pair (IMAGE_URL without IMAGE_DIGEST) is rejected too, since
// Chains needs only the other half to appear.
var (
	chainsSuffixes = []string{"IMAGE_URL", "IMAGE_DIGEST", "ARTIFACT_URI", "ARTIFACT_DIGEST", "ARTIFACT_OUTPUTS", "ARTIFACT_INPUTS"}
	chainsNames    = []string{"IMAGES"}
)

// ChainsTypeHint returns the type hint of Tekton Chains that a result name matches ("*IMAGE_URL",
// "IMAGES"…), or "" when it matches none.
func ChainsTypeHint(name string) string {
	for _, n := range chainsNames {
		if name == n {
			return n
		}
	}
	for _, s := range chainsSuffixes {
		if strings.HasSuffix(name, s) {
			return "*" + s
		}
	}
	return ""
}

// CheckChains rejects every result that Tekton Chains' type hinting would take for a built
// artifact: the results of Tasks and of their steps, of StepActions, of Pipelines and of the
// Tasks they embed. Each such result is one error naming its file.
func (r *Repo) CheckChains() error {
	var errs []error
	check := func(kind, name, where, result string) {
		if hint := ChainsTypeHint(result); hint != "" {
			errs = append(errs, &FileError{Path: r.Path[kind+"/"+name], Err: fmt.Errorf(
				"%s: result %s matches Tekton Chains' type hinting (%s): Chains (on in hosted Konflux) would sign the image it names and attest it as built by this run; name it for what it is (e.g. STAGING_IMAGE, PINNED_DIGEST)",
				where, result, hint)})
		}
	}
	taskSpec := func(kind, name, where string, spec *v1.TaskSpec) {
		declared := map[string]bool{}
		for _, res := range spec.Results {
			declared[res.Name] = true
			check(kind, name, where, res.Name)
		}
		for _, s := range spec.Steps {
			for _, res := range s.Results {
				// A step result carried by the task result of the same name is reported once.
				if !declared[res.Name] {
					check(kind, name, where+" step "+s.Name, res.Name)
				}
			}
		}
	}
	for _, name := range Names(r.StepActions) {
		for _, res := range r.StepActions[name].Spec.Results {
			check("StepAction", name, "StepAction "+name, res.Name)
		}
	}
	for _, name := range Names(r.Tasks) {
		taskSpec("Task", name, "Task "+name, &r.Tasks[name].Spec)
	}
	for _, name := range Names(r.Pipelines) {
		p := r.Pipelines[name]
		for _, res := range p.Spec.Results {
			check("Pipeline", name, "Pipeline "+name, res.Name)
		}
		for _, pt := range append(append([]v1.PipelineTask{}, p.Spec.Tasks...), p.Spec.Finally...) {
			if pt.TaskSpec != nil {
				taskSpec("Pipeline", name, "Pipeline "+name+" task "+pt.Name, &pt.TaskSpec.TaskSpec)
			}
		}
	}
	return errors.Join(errs...)
}
