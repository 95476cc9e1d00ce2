// Command chains-subjects asks Tekton Chains' own code which results of a Task or Pipeline it
// would take for built artifacts (or inputs) through its type hinting: *IMAGE_URL with
// *IMAGE_DIGEST, IMAGES, *ARTIFACT_URI with *ARTIFACT_DIGEST, *ARTIFACT_OUTPUTS,
// *ARTIFACT_INPUTS. A Task that builds nothing must have none: Chains would sign the image it
// names (OCI storage) and attest it as built by that TaskRun or PipelineRun.
//
// It does not re-implement the hinting. For each Task (a Pipeline's embedded taskSpec counts as
// one, and the Pipeline's own results make a PipelineRun) it builds the TaskRun Chains would see
// with every declared result present, and calls the functions Chains' signers, formatters and
// storage call (tektoncd/chains v0.26.2):
//   - artifacts.ExtractOCIImagesFromResults: the images the OCI signer signs and the OCI storage
//     attaches signatures and attestations to (pkg/artifacts/signable.go, OCIArtifact);
//   - extract.SubjectDigests (through its exported wrapper RetrieveAllArtifactURIs): the
//     subjects of the in-toto/slsa/v1 and slsa/v2alpha3 provenance
//     (pkg/chains/formats/slsa/extract/extract.go). With deep inspection, as hosted Konflux
//     runs it, a PipelineRun's subjects are its own plus each of its TaskRuns' by this same
//     function, so checking every embedded task as a TaskRun covers them;
//   - extract.SubjectsFromBuildArtifact over the task's and every step's results, as
//     slsa/v2alpha4 does (pkg/chains/formats/slsa/v2alpha4/internal/taskrun, internal to Chains,
//     so its five-line loop is repeated here);
//   - artifacts.RetrieveMaterialsFromStructuredResults: the input materials (*ARTIFACT_INPUTS).
//
// Values are what makes a hint count (a digest must parse, a URL must join it into a
// reference), so several sets are tried: every result an image reference
// (registry.example/ns/<name>@sha256:<hex>; objects {uri, digest, isBuildArtifact}); for every
// ordered pair of string results, one a repository and the other a digest; and the values given
// with -value (the shapes the steps really write). A result is reported when taking it away
// changes what Chains extracts.
//
// Usage: chains-subjects [-json] [-value NAME=VALUE]... FILE.yaml...
//
//	chains-subjects [-json] -names NAME,NAME...   (judge bare names: one Task per result type)
//
// Exit status: 0 nothing found, 1 results Chains would take for artifacts, 2 a file it cannot read.
package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"sort"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/tektoncd/chains/pkg/artifacts"
	"github.com/tektoncd/chains/pkg/chains/formats/slsa/extract"
	"github.com/tektoncd/chains/pkg/chains/objects"
	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	"go.uber.org/zap"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"knative.dev/pkg/logging"
	"sigs.k8s.io/yaml"
)

// Finding is one result Chains takes for an artifact.
type Finding struct {
	File   string   `json:"file,omitempty"`
	Object string   `json:"object"` // "Task check-image", "Pipeline p task t", "Pipeline p"
	Result string   `json:"result"`
	How    []string `json:"how"` // which of Chains' functions, with one artifact it made of it
}

type values []string

func (v *values) String() string     { return strings.Join(*v, ",") }
func (v *values) Set(s string) error { *v = append(*v, s); return nil }

func main() {
	var real values
	asJSON := flag.Bool("json", false, "print the findings as a JSON array")
	names := flag.String("names", "", "comma-separated result names to judge instead of files")
	flag.Var(&real, "value", "NAME=VALUE: a value a step really writes, tried as one more set (repeatable; a JSON object or array for those types)")
	flag.Parse()
	os.Exit(run(os.Stdout, os.Stderr, *asJSON, *names, real, flag.Args()))
}

func run(stdout, stderr io.Writer, asJSON bool, names string, realFlags []string, files []string) int {
	real := map[string]string{}
	for _, kv := range realFlags {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			fmt.Fprintf(stderr, "chains-subjects: -value %q: want NAME=VALUE\n", kv)
			return 2
		}
		real[k] = v
	}
	var units []unit
	if names != "" {
		units = nameUnits(strings.Split(names, ","))
	}
	for _, f := range files {
		u, err := fileUnits(f)
		if err != nil {
			fmt.Fprintf(stderr, "chains-subjects: %v\n", err)
			return 2
		}
		units = append(units, u...)
	}
	if len(units) == 0 {
		fmt.Fprintln(stderr, "chains-subjects: no Task, Pipeline or -names to check")
		return 2
	}
	// Chains logs through knative's logger; the values tried here are meant to fail its parsing.
	ctx := logging.WithLogger(context.Background(), zap.NewNop().Sugar())
	var all []Finding
	for _, u := range units {
		all = append(all, u.check(ctx, real)...)
	}
	if asJSON {
		b, err := json.MarshalIndent(all, "", "  ")
		if err != nil {
			fmt.Fprintf(stderr, "chains-subjects: %v\n", err)
			return 2
		}
		fmt.Fprintf(stdout, "%s\n", b)
	} else {
		for _, f := range all {
			where := f.Object
			if f.File != "" {
				where = f.File + ": " + f.Object
			}
			fmt.Fprintf(stdout, "%s: result %s: Tekton Chains takes it for an artifact: %s\n", where, f.Result, byArtifact(f.How))
		}
		if len(all) == 0 {
			fmt.Fprintf(stdout, "no result of %d Tasks/PipelineRuns matches Tekton Chains' type hinting\n", len(units))
		}
	}
	if len(all) > 0 {
		return 1
	}
	return 0
}

// byArtifact turns "function: artifact" entries into "artifact (function, function); …".
func byArtifact(how []string) string {
	fns := map[string][]string{}
	for _, h := range how {
		fn, a, _ := strings.Cut(h, ": ")
		fns[a] = append(fns[a], fn)
	}
	var out []string
	for _, a := range sortedKeys(fns) {
		out = append(out, a+" ("+strings.Join(fns[a], ", ")+")")
	}
	return strings.Join(out, "; ")
}

// decl is a declared result.
type decl struct {
	name string
	typ  v1.ResultsType
}

// unit is what Chains sees of one run: a TaskRun (task and step results) or a PipelineRun
// (its own results).
type unit struct {
	file, object string
	pipelineRun  bool
	results      []decl
	steps        [][]decl
}

func fileUnits(path string) ([]unit, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	var tm metav1.TypeMeta
	if err := yaml.Unmarshal(b, &tm); err != nil {
		return nil, fmt.Errorf("decoding %s: %w", path, err)
	}
	switch tm.Kind {
	case "Task":
		var t v1.Task
		if err := yaml.Unmarshal(b, &t); err != nil {
			return nil, fmt.Errorf("decoding %s: %w", path, err)
		}
		return []unit{taskUnit(path, "Task "+t.Name, &t.Spec)}, nil
	case "Pipeline":
		var p v1.Pipeline
		if err := yaml.Unmarshal(b, &p); err != nil {
			return nil, fmt.Errorf("decoding %s: %w", path, err)
		}
		out := []unit{}
		for _, pt := range append(slices.Clone(p.Spec.Tasks), p.Spec.Finally...) {
			// A taskRef'd Task is checked in its own file.
			if pt.TaskSpec != nil {
				out = append(out, taskUnit(path, "Pipeline "+p.Name+" task "+pt.Name, &pt.TaskSpec.TaskSpec))
			}
		}
		pr := unit{file: path, object: "Pipeline " + p.Name, pipelineRun: true}
		for _, r := range p.Spec.Results {
			pr.results = append(pr.results, decl{r.Name, r.Type})
		}
		return append(out, pr), nil
	default:
		return nil, fmt.Errorf("%s: kind %q: want a Task or a Pipeline", path, tm.Kind)
	}
}

func taskUnit(file, object string, spec *v1.TaskSpec) unit {
	u := unit{file: file, object: object}
	for _, r := range spec.Results {
		u.results = append(u.results, decl{r.Name, r.Type})
	}
	for _, s := range spec.Steps {
		var ds []decl
		for _, r := range s.Results {
			ds = append(ds, decl{r.Name, r.Type})
		}
		u.steps = append(u.steps, ds)
	}
	return u
}

// nameUnits: one Task per result type, each declaring every name as a task result.
func nameUnits(names []string) []unit {
	var out []unit
	for _, typ := range []v1.ResultsType{v1.ResultsTypeString, v1.ResultsTypeArray, v1.ResultsTypeObject} {
		u := unit{object: "names as " + string(typ) + " results"}
		for _, n := range names {
			if n = strings.TrimSpace(n); n != "" {
				u.results = append(u.results, decl{n, typ})
			}
		}
		out = append(out, u)
	}
	return out
}

// names are the unit's result names, task and step results together (a step result and the
// task result that carries it share a name and a value).
func (u unit) names() map[string]v1.ResultsType {
	m := map[string]v1.ResultsType{}
	for _, d := range u.results {
		m[d.name] = d.typ
	}
	for _, s := range u.steps {
		for _, d := range s {
			if _, ok := m[d.name]; !ok {
				m[d.name] = d.typ
			}
		}
	}
	return m
}

// check tries every set of values and, for each set Chains makes artifacts of, takes each result
// away in turn: those whose absence changes the artifacts are reported.
func (u unit) check(ctx context.Context, real map[string]string) []Finding {
	types := u.names()
	found := map[string]map[string]bool{}
	for _, vals := range u.valueSets(types, real) {
		base := u.extract(ctx, vals)
		if len(base) == 0 {
			continue
		}
		for n := range types {
			without := maps.Clone(vals)
			delete(without, n)
			got := u.extract(ctx, without)
			for _, a := range base {
				if !slices.Contains(got, a) {
					if found[n] == nil {
						found[n] = map[string]bool{}
					}
					found[n][a] = true
				}
			}
		}
	}
	var out []Finding
	for _, n := range sortedKeys(found) {
		out = append(out, Finding{File: u.file, Object: u.object, Result: n, How: firstPerFunction(sortedKeys(found[n]))})
	}
	return out
}

// firstPerFunction keeps one artifact per Chains function ("function: artifact").
func firstPerFunction(list []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, a := range list {
		fn, _, _ := strings.Cut(a, ": ")
		if !seen[fn] {
			seen[fn] = true
			out = append(out, a)
		}
	}
	return out
}

func sortedKeys[T any](m map[string]T) []string { return slices.Sorted(maps.Keys(m)) }

// valueSets are the sets of values tried: all image references; each ordered pair of string
// results as repository + digest; the real values.
func (u unit) valueSets(types map[string]v1.ResultsType, real map[string]string) []map[string]v1.ResultValue {
	ref := map[string]v1.ResultValue{}
	var strs []string
	for n, t := range types {
		ref[n] = refValue(n, t)
		if t == "" || t == v1.ResultsTypeString {
			strs = append(strs, n)
		}
	}
	sort.Strings(strs)
	sets := []map[string]v1.ResultValue{ref}
	for _, a := range strs {
		for _, b := range strs {
			if a == b {
				continue
			}
			s := maps.Clone(ref)
			s[a] = *v1.NewStructuredValues(repository(a))
			s[b] = *v1.NewStructuredValues("sha256:" + hexOf(b))
			sets = append(sets, s)
		}
	}
	s, used := maps.Clone(ref), false
	for n, v := range real {
		if _, ok := types[n]; !ok {
			continue
		}
		used = true
		s[n] = realValue(v)
	}
	if used {
		sets = append(sets, s)
	}
	return sets
}

func realValue(v string) v1.ResultValue {
	var obj map[string]string
	if json.Unmarshal([]byte(v), &obj) == nil && strings.HasPrefix(strings.TrimSpace(v), "{") {
		return *v1.NewObject(obj)
	}
	var arr []string
	if json.Unmarshal([]byte(v), &arr) == nil && strings.HasPrefix(strings.TrimSpace(v), "[") {
		return v1.ResultValue{Type: v1.ParamTypeArray, ArrayVal: arr}
	}
	return *v1.NewStructuredValues(v)
}

// hexOf is a distinct, valid sha256 hex per result, so each artifact names the result it came from.
func hexOf(n string) string {
	h := sha256.Sum256([]byte(n))
	return hex.EncodeToString(h[:])
}

// repository is a valid repository named after the result.
func repository(n string) string {
	slug := strings.Trim(strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			return r
		case r >= 'A' && r <= 'Z':
			return r - 'A' + 'a'
		default:
			return '-'
		}
	}, n), "-")
	if slug == "" {
		slug = "r"
	}
	return "registry.example/ns/" + slug
}

func refValue(n string, t v1.ResultsType) v1.ResultValue {
	ref := repository(n) + "@sha256:" + hexOf(n)
	switch t {
	case v1.ResultsTypeArray:
		return *v1.NewStructuredValues(ref, ref)
	case v1.ResultsTypeObject:
		return *v1.NewObject(map[string]string{"uri": repository(n), "digest": "sha256:" + hexOf(n), "isBuildArtifact": "true"})
	default:
		return *v1.NewStructuredValues(ref)
	}
}

// extract runs Chains' functions over the run built from vals and lists what they made of it,
// "function: artifact", sorted.
func (u unit) extract(ctx context.Context, vals map[string]v1.ResultValue) []string {
	result := func(d decl) (v1.TaskRunResult, bool) {
		v, ok := vals[d.name]
		return v1.TaskRunResult{Name: d.name, Type: d.typ, Value: v}, ok
	}
	var out []string
	add := func(fn, artifact string) { out = append(out, fn+": "+artifact) }
	var obj objects.TektonObject
	if u.pipelineRun {
		pr := &v1.PipelineRun{ObjectMeta: metav1.ObjectMeta{Name: "run", Namespace: "tenant", UID: "pr"}}
		for _, d := range u.results {
			if r, ok := result(d); ok {
				pr.Status.Results = append(pr.Status.Results, v1.PipelineRunResult{Name: r.Name, Value: r.Value})
			}
		}
		obj = objects.NewPipelineRunObjectV1(pr)
	} else {
		tr := &v1.TaskRun{ObjectMeta: metav1.ObjectMeta{Name: "run", Namespace: "tenant", UID: "tr"}}
		for _, d := range u.results {
			if r, ok := result(d); ok {
				tr.Status.Results = append(tr.Status.Results, r)
			}
		}
		for i, s := range u.steps {
			st := v1.StepState{Name: fmt.Sprintf("step-%d", i)}
			for _, d := range s {
				if r, ok := result(d); ok {
					st.Results = append(st.Results, r)
				}
			}
			tr.Status.Steps = append(tr.Status.Steps, st)
		}
		obj = objects.NewTaskRunObjectV1(tr)
		// The OCI signer and storage: TaskRuns only (PipelineRunObjectV1.SupportsOCIArtifact is false).
		for _, i := range artifacts.ExtractOCIImagesFromResults(ctx, obj.GetResults()) {
			if d, ok := i.(name.Digest); ok {
				add("OCI signature and attestation [artifacts.ExtractOCIImagesFromResults]", d.String())
			}
		}
		// slsa/v2alpha4: every step's results, then the task's.
		for _, st := range tr.Status.Steps {
			var rs []objects.Result
			for _, r := range st.Results {
				rs = append(rs, objects.Result{Name: r.Name, Value: r.Value})
			}
			for _, s := range extract.SubjectsFromBuildArtifact(ctx, rs) {
				add("slsa/v2alpha4 subject of a step's results [extract.SubjectsFromBuildArtifact]", subject(s.Name, s.Digest))
			}
		}
	}
	for _, s := range extract.SubjectsFromBuildArtifact(ctx, obj.GetResults()) {
		add("slsa/v2alpha4 subject [extract.SubjectsFromBuildArtifact]", subject(s.Name, s.Digest))
	}
	// extract.SubjectDigests takes a config type internal to Chains; RetrieveAllArtifactURIs is
	// its exported wrapper (the one the formatters' RetrieveAllArtifactURIs and the Grafeas
	// storage call).
	for _, deep := range []bool{false, true} {
		for _, a := range extract.RetrieveAllArtifactURIs(ctx, obj, deep) {
			add("in-toto/slsa v1 and v2alpha3 subject [extract.SubjectDigests]", a)
		}
	}
	for _, m := range artifacts.RetrieveMaterialsFromStructuredResults(ctx, obj.GetResults()) {
		add("provenance input material [artifacts.RetrieveMaterialsFromStructuredResults]", subject(m.URI, m.Digest))
	}
	sort.Strings(out)
	return slices.Compact(out)
}

func subject(name string, digest map[string]string) string {
	var parts []string
	for _, alg := range sortedKeys(digest) {
		parts = append(parts, alg+":"+digest[alg])
	}
	return name + "@" + strings.Join(parts, ",")
}
