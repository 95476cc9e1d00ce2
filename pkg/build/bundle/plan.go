package bundle

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
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
	p, err := newPlanner(resources)
	if err != nil {
		return nil, err
	}
	for _, r := range resources {
		b, err := p.bundleOf(r)
		if err != nil {
			return nil, err
		}
		if b == nil {
			continue
		}
		if err := p.add(b, r.Path); err != nil {
			return nil, err
		}
	}
	for _, r := range resources {
		if r.Kind == "StepAction" && !p.used[key{r.Name, r.VersionDir}] {
			if err := p.add(&Bundle{Repository: "stepaction-" + r.Name, Tag: r.VersionDir, Resources: []*Resource{r}}, r.Path); err != nil {
				return nil, err
			}
		}
	}
	// Tasks first, then pipelines, then lone StepActions; by name within each.
	order := func(b *Bundle) string {
		return map[string]string{"task-": "0", "pipeline-": "1", "stepaction-": "2"}[b.Repository[:strings.Index(b.Repository, "-")+1]] + b.Repository + ":" + b.Tag
	}
	sort.SliceStable(p.bundles, func(i, j int) bool { return order(p.bundles[i]) < order(p.bundles[j]) })
	return p.bundles, nil
}

// key names a resource within its kind: its name and version folder.
type key struct{ name, version string }

// planner is Plan's state: the StepActions and Tasks by key, the StepActions a bundle took,
// and the bundles so far by repository:tag.
type planner struct {
	stepActions, tasks map[key]*Resource
	used               map[key]bool
	bundles            []*Bundle
	repos              map[string]string
}

func newPlanner(resources []*Resource) (*planner, error) {
	p := &planner{stepActions: map[key]*Resource{}, tasks: map[key]*Resource{}, used: map[key]bool{}, repos: map[string]string{}}
	for _, r := range resources {
		var m map[key]*Resource
		switch r.Kind {
		case "StepAction":
			m = p.stepActions
		case "Task":
			m = p.tasks
		default:
			continue
		}
		k := key{r.Name, r.VersionDir}
		if prev, ok := m[k]; ok {
			return nil, fmt.Errorf("%s %s %s defined twice: %s and %s", r.Kind, r.Name, r.VersionDir, prev.Path, r.Path)
		}
		m[k] = r
	}
	return p, nil
}

// bundleOf is the bundle of a Task (with its StepActions) or a Pipeline (with its Tasks and
// theirs); nil for other kinds.
func (p *planner) bundleOf(r *Resource) (*Bundle, error) {
	var err error
	switch r.Kind {
	case "Task":
		b := &Bundle{Repository: "task-" + r.Name, Tag: r.VersionDir, Resources: []*Resource{r}}
		b.Resources, err = p.withStepActions(b.Resources, r)
		return b, err
	case "Pipeline":
		b := &Bundle{Repository: "pipeline-" + r.Name, Tag: r.VersionDir, Resources: []*Resource{r}}
		for _, name := range r.PipeTasks {
			task, ok := p.tasks[key{name, r.VersionDir}]
			if !ok {
				return nil, fmt.Errorf("%s: taskRef %q: no Task %s in tasks/*/%s/", r.Path, name, name, r.VersionDir)
			}
			b.Resources = append(b.Resources, task)
			if b.Resources, err = p.withStepActions(b.Resources, task); err != nil {
				return nil, err
			}
		}
		b.Resources, err = p.withStepActions(b.Resources, r)
		return b, err
	}
	return nil, nil
}

// withStepActions appends to list the StepActions r's steps name, once each.
func (p *planner) withStepActions(list []*Resource, r *Resource) ([]*Resource, error) {
	for _, name := range r.StepRefs {
		k := key{name, r.VersionDir}
		sa, ok := p.stepActions[k]
		if !ok {
			return nil, fmt.Errorf("%s: step ref %q: no StepAction %s in stepactions/*/%s/", r.Path, name, name, r.VersionDir)
		}
		p.used[k] = true
		if !slices.Contains(list, sa) {
			list = append(list, sa)
		}
	}
	return list, nil
}

// add keeps b, made from the file from, unless its repository:tag is taken or it holds more
// objects than Tekton accepts in a bundle.
func (p *planner) add(b *Bundle, from string) error {
	id := b.Repository + ":" + b.Tag
	if prev, ok := p.repos[id]; ok {
		return fmt.Errorf("bundle %s from both %s and %s", id, prev, from)
	}
	if len(b.Resources) > MaxObjects {
		return fmt.Errorf("bundle %s: %d resources, Tekton accepts at most %d", id, len(b.Resources), MaxObjects)
	}
	p.repos[id] = from
	p.bundles = append(p.bundles, b)
	return nil
}
