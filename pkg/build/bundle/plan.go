package bundle

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Bundle is one bundle image to push: <registry>/<Repository>:<Tag>.
type Bundle struct {
	Repository string // task-check-image, pipeline-release-to-prod, stepaction-x
	Tag        string // the catalog version folder, e.g. 0.1
	Resources  []*Resource
}

// IDs lists the bundle's resources as kind/name.
func (b *Bundle) IDs() []string {
	ids := make([]string, len(b.Resources))
	for i, r := range b.Resources {
		ids[i] = r.ID()
	}
	return ids
}

// Load reads every <dir>/<name>/<version>/*.yaml under root's tasks/, stepactions/ and
// pipelines/ (missing folders are fine) and decodes each file as one Tekton resource.
func Load(root string) ([]*Resource, error) {
	var all []*Resource
	for _, dir := range []string{"stepactions", "tasks", "pipelines"} {
		files, err := filepath.Glob(filepath.Join(root, dir, "*", "*", "*.yaml"))
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", dir, err)
		}
		sort.Strings(files)
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				return nil, fmt.Errorf("read resource: %w", err)
			}
			rel, err := filepath.Rel(root, f)
			if err != nil {
				rel = f
			}
			r, err := Decode(rel, data)
			if err != nil {
				return nil, err
			}
			r.VersionDir = filepath.Base(filepath.Dir(f))
			if want := map[string]string{"stepactions": "StepAction", "tasks": "Task", "pipelines": "Pipeline"}[dir]; r.Kind != want {
				return nil, fmt.Errorf("%s: a %s in %s/ (want %s)", rel, r.Kind, dir, want)
			}
			all = append(all, r)
		}
	}
	return all, nil
}

// Plan groups resources into bundles (see the package doc). A reference to a Task or StepAction
// of the same catalog version that is not in the repository is an error: the bundle would not run.
func Plan(resources []*Resource) ([]*Bundle, error) {
	type key struct{ name, version string }
	stepActions := map[key]*Resource{}
	tasks := map[key]*Resource{}
	used := map[key]bool{}
	for _, r := range resources {
		var m map[key]*Resource
		switch r.Kind {
		case "StepAction":
			m = stepActions
		case "Task":
			m = tasks
		default:
			continue
		}
		k := key{r.Name, r.VersionDir}
		if prev, ok := m[k]; ok {
			return nil, fmt.Errorf("%s %s %s defined twice: %s and %s", r.Kind, r.Name, r.VersionDir, prev.Path, r.Path)
		}
		m[k] = r
	}
	// withStepActions appends to list the StepActions r's steps name, once each.
	withStepActions := func(list []*Resource, r *Resource) ([]*Resource, error) {
		for _, name := range r.StepRefs {
			k := key{name, r.VersionDir}
			sa, ok := stepActions[k]
			if !ok {
				return nil, fmt.Errorf("%s: step ref %q: no StepAction %s in stepactions/*/%s/", r.Path, name, name, r.VersionDir)
			}
			used[k] = true
			if !contains(list, sa) {
				list = append(list, sa)
			}
		}
		return list, nil
	}
	var bundles []*Bundle
	repos := map[string]string{}
	add := func(b *Bundle, from string) error {
		id := b.Repository + ":" + b.Tag
		if prev, ok := repos[id]; ok {
			return fmt.Errorf("bundle %s from both %s and %s", id, prev, from)
		}
		if len(b.Resources) > MaxObjects {
			return fmt.Errorf("bundle %s: %d resources, Tekton accepts at most %d", id, len(b.Resources), MaxObjects)
		}
		repos[id] = from
		bundles = append(bundles, b)
		return nil
	}
	for _, r := range resources {
		var b *Bundle
		var err error
		switch r.Kind {
		case "Task":
			b = &Bundle{Repository: "task-" + r.Name, Tag: r.VersionDir, Resources: []*Resource{r}}
			b.Resources, err = withStepActions(b.Resources, r)
		case "Pipeline":
			b = &Bundle{Repository: "pipeline-" + r.Name, Tag: r.VersionDir, Resources: []*Resource{r}}
			for _, name := range r.PipeTasks {
				task, ok := tasks[key{name, r.VersionDir}]
				if !ok {
					return nil, fmt.Errorf("%s: taskRef %q: no Task %s in tasks/*/%s/", r.Path, name, name, r.VersionDir)
				}
				b.Resources = append(b.Resources, task)
				if b.Resources, err = withStepActions(b.Resources, task); err != nil {
					return nil, err
				}
			}
			b.Resources, err = withStepActions(b.Resources, r)
		default:
			continue
		}
		if err != nil {
			return nil, err
		}
		if err := add(b, r.Path); err != nil {
			return nil, err
		}
	}
	for _, r := range resources {
		if r.Kind == "StepAction" && !used[key{r.Name, r.VersionDir}] {
			if err := add(&Bundle{Repository: "stepaction-" + r.Name, Tag: r.VersionDir, Resources: []*Resource{r}}, r.Path); err != nil {
				return nil, err
			}
		}
	}
	// Tasks first, then pipelines, then lone StepActions; by name within each.
	order := func(b *Bundle) string {
		return map[string]string{"task-": "0", "pipeline-": "1", "stepaction-": "2"}[b.Repository[:strings.Index(b.Repository, "-")+1]] + b.Repository + ":" + b.Tag
	}
	sort.SliceStable(bundles, func(i, j int) bool { return order(bundles[i]) < order(bundles[j]) })
	return bundles, nil
}

func contains(list []*Resource, r *Resource) bool {
	for _, x := range list {
		if x == r {
			return true
		}
	}
	return false
}
