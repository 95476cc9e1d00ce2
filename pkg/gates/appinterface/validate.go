package appinterface

import (
	"fmt"
	"path"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Schema is the `$schema` a SaaS file must declare.
const Schema = "/app-sre/saas-file-2.yml"

// Kind sorts problems by what the user has to do about them.
type Kind string

// The kinds of problem. Everything that is not a ref mismatch or a blocked version is Invalid.
const (
	Invalid        Kind = "invalid"
	RefMismatch    Kind = "ref-mismatch"
	BlockedVersion Kind = "blocked-version"
)

// Problem is one finding, located in a file of the checkout.
type Problem struct {
	Kind Kind
	File string // relative to the checkout
	Line int    // 0 when unknown
	Msg  string
	// Target and Got are set for a RefMismatch: the target's label and the ref it has.
	Target, Got string
}

func (p Problem) String() string {
	if p.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", p.File, p.Line, p.Msg)
	}
	return fmt.Sprintf("%s: %s", p.File, p.Msg)
}

// Target is one target of a resource template, as far as it could be resolved.
type Target struct {
	ResourceTemplate string
	Name             string // the target's own name; often empty
	NamespaceRef     string // the namespace $ref as written
	Namespace        string // the namespace file's name (or its file name when unknown)
	Environment      string // the environment file's name; empty when unresolved
	Production       bool
	Why              string // why it counts as production
	Ref              string
}

// Label names the target in output and in the TARGETS_CHECKED result: name@namespace, where name
// is the target's name or, as app-interface targets rarely have one, the resource template's.
func (t Target) Label() string {
	n := t.Name
	if n == "" {
		n = t.ResourceTemplate
	}
	return n + "@" + t.Namespace
}

// Options are what the SaaS file is checked against.
type Options struct {
	CommitSHA string // a valid 40-hex SHA (commit.ParseSHA)
	// Target, when set, names the production target(s) explicitly, by the target's name, its
	// namespace $ref (with or without the leading "/" or "data/") or the namespace's name.
	// Detection from the environment file is then not used.
	Target string
}

// Report is the outcome of Validate. The file is valid when Problems is empty.
type Report struct {
	SaasFile string
	Name     string
	Problems []Problem
	Warnings []Problem
	Targets  []Target // every target, in file order
	Checked  []Target // the production targets whose ref was checked
	// SingleFile is true when the workspace had no data/ folder: cross-references were checked
	// for form only.
	SingleFile bool
}

// Count returns the number of problems of kind k.
func (r *Report) Count(k Kind) int {
	n := 0
	for _, p := range r.Problems {
		if p.Kind == k {
			n++
		}
	}
	return n
}

var (
	// The pattern saas-file-target-1.yml allows for a target's ref.
	refPattern = regexp.MustCompile(`^([0-9a-f]{40}|master|main|internal|stable|release-4\.\d+)$`)
	// saas-file-target-1.yml: target parameter names.
	targetParamName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*$`)
	// OpenShift template parameter names (what `oc process` accepts), for the resource template
	// and file levels, which the schema leaves open.
	templateParamName = regexp.MustCompile(`^[A-Za-z0-9_]+$`)
)

// targetKeys are the properties saas-file-target-1.yml allows; others are most likely typos
// (`disabled:` for `disable:`) and are warned about.
var targetKeys = map[string]bool{
	"$schema": true, "name": true, "provider": true, "namespace": true, "namespaceSelector": true,
	"ref": true, "promotion": true, "parameters": true, "secretParameters": true, "upstream": true,
	"images": true, "image": true, "disable": true, "delete": true,
}

// Validate checks the SaaS file at saasFile (relative to the checkout, already cleaned) and the
// files it references. It collects every problem; the error is for a SaaS file that cannot be
// read at all.
func Validate(c *Checkout, saasFile string, opts Options) (*Report, error) {
	b, err := c.ReadFile(saasFile)
	if err != nil {
		return nil, err
	}
	return validateBytes(c, saasFile, b, opts), nil
}

type loaded struct {
	root *yaml.Node
	ok   bool
}

type validator struct {
	c     *Checkout
	opts  Options
	rep   *Report
	files map[string]loaded
	work  int // nodes visited; see spend
}

// workLimit bounds the nodes the checks visit. A file is read once, but YAML aliases can make a
// small file name the same big list from many places; a real SaaS file is far below this.
const workLimit = 1_000_000

// spend counts n nodes of work and reports false (once, as a problem) past workLimit.
func (v *validator) spend(file string, n int) bool {
	v.work += n
	if v.work > workLimit && v.work-n <= workLimit {
		v.problem(Invalid, file, nil, "the file is too large or too deeply aliased to check (over %d nodes): stopped here", workLimit)
	}
	return v.work <= workLimit
}

func validateBytes(c *Checkout, saasFile string, b []byte, opts Options) *Report {
	v := &validator{c: c, opts: opts, rep: &Report{SaasFile: saasFile, SingleFile: !c.HasData()}, files: map[string]loaded{}}
	root := v.parse(saasFile, b)
	if root == nil {
		return v.rep
	}
	v.files[saasFile] = loaded{root: root, ok: true}
	v.saasFile(saasFile, root)
	return v.rep
}

func (v *validator) problem(k Kind, file string, n *yaml.Node, format string, args ...any) {
	v.rep.Problems = append(v.rep.Problems, Problem{Kind: k, File: file, Line: line(n), Msg: fmt.Sprintf(format, args...)})
}

func (v *validator) warn(file string, n *yaml.Node, format string, args ...any) {
	v.rep.Warnings = append(v.rep.Warnings, Problem{File: file, Line: line(n), Msg: fmt.Sprintf(format, args...)})
}

// parse parses a file and reports syntax errors and duplicate keys as problems.
func (v *validator) parse(file string, b []byte) *yaml.Node {
	root, err := parseYAML(file, b)
	if err != nil {
		se := err.(*SyntaxError)
		v.rep.Problems = append(v.rep.Problems, Problem{Kind: Invalid, File: file, Line: se.Line, Msg: "YAML syntax error: " + se.Msg})
		return nil
	}
	duplicateKeys(root, func(first, dup *yaml.Node) {
		v.problem(Invalid, file, dup, "key %q is defined twice (first on line %d): the second one silently wins", dup.Value, first.Line)
	})
	return root
}

// load reads and parses the file a cross-reference names. Each file is read once, and a broken
// reference is reported once, at the first place it is used. ok is false when the file could not
// be loaded (or, in single-file mode, was not looked for).
func (v *validator) load(from string, refNode *yaml.Node) (string, *yaml.Node, bool) {
	rel, err := RefPath(refNode.Value)
	if err != nil {
		v.problem(Invalid, from, refNode, "%v", err)
		return "", nil, false
	}
	if !v.c.HasData() {
		return rel, nil, false
	}
	if l, seen := v.files[rel]; seen {
		return rel, l.root, l.ok
	}
	b, err := v.c.ReadFile(rel)
	if err != nil {
		v.files[rel] = loaded{}
		v.problem(Invalid, from, refNode, "$ref %s does not resolve: %v", refNode.Value, err)
		return rel, nil, false
	}
	root := v.parse(rel, b)
	v.files[rel] = loaded{root: root, ok: root != nil}
	return rel, root, root != nil
}

// crossref returns the `$ref` scalar of a crossref mapping, reporting a malformed one.
func (v *validator) crossref(file, what string, f field) *yaml.Node {
	ref, ok := get(f.val, "$ref")
	if f.val == nil || f.val.Kind != yaml.MappingNode || !ok {
		v.problem(Invalid, file, f.key, "%s must be a cross-reference ({$ref: /path/to/file.yml}), got %s", what, kindName(f.val))
		return nil
	}
	if !isString(ref.val) || ref.val.Value == "" {
		v.problem(Invalid, file, ref.key, "%s: $ref must be a non-empty string, got %s", what, kindName(ref.val))
		return nil
	}
	return ref.val
}

// follow resolves the crossref in f and returns the referenced file and its root.
func (v *validator) follow(file, what string, f field) (string, *yaml.Node, bool) {
	ref := v.crossref(file, what, f)
	if ref == nil {
		return "", nil, false
	}
	return v.load(file, ref)
}

// required reports a missing key of mapping m (at parent's line) and returns the field.
func (v *validator) required(file string, m *yaml.Node, where, key string) (field, bool) {
	f, ok := get(m, key)
	if !ok {
		v.problem(Invalid, file, m, "%smissing required field %q", where, key)
	}
	return f, ok
}

func (v *validator) requireString(file string, m *yaml.Node, where, key string) (string, bool) {
	f, ok := v.required(file, m, where, key)
	if !ok {
		return "", false
	}
	if !isString(f.val) || f.val.Value == "" {
		v.problem(Invalid, file, f.key, "%s%s must be a non-empty string, got %s", where, key, kindName(f.val))
		return "", false
	}
	return f.val.Value, true
}

func (v *validator) stringList(file string, f field, where string, nonEmpty bool) []string {
	if f.val == nil || f.val.Kind != yaml.SequenceNode {
		v.problem(Invalid, file, f.key, "%s%s must be a list of strings, got %s", where, f.key.Value, kindName(f.val))
		return nil
	}
	if !v.spend(file, len(f.val.Content)) {
		return nil
	}
	var out []string
	for i, it := range items(f.val) {
		if !isString(it) {
			v.problem(Invalid, file, orKey(it, f.key), "%s%s[%d] must be a string, got %s", where, f.key.Value, i, kindName(it))
			continue
		}
		out = append(out, it.Value)
	}
	if nonEmpty && len(f.val.Content) == 0 {
		v.problem(Invalid, file, f.key, "%s%s must not be empty", where, f.key.Value)
	}
	return out
}

func orKey(n, key *yaml.Node) *yaml.Node {
	if n != nil && n.Line > 0 {
		return n
	}
	return key
}

func (v *validator) saasFile(file string, root *yaml.Node) {
	if f, ok := v.required(file, root, "", "$schema"); ok && (!isString(f.val) || f.val.Value != Schema) {
		got := kindName(f.val)
		if isString(f.val) {
			got = fmt.Sprintf("%q", f.val.Value)
		}
		v.problem(Invalid, file, f.key, "$schema must be %s, got %s: this is not a SaaS file (or an unsupported version)", Schema, got)
	}
	if name, ok := v.requireString(file, root, "", "name"); ok {
		v.rep.Name = name
		if len(name) > 39 {
			v.problem(Invalid, file, root, "name %q is longer than 39 characters", name)
		}
	}
	if f, ok := v.required(file, root, "", "app"); ok {
		if _, app, ok := v.follow(file, "app", f); ok {
			v.blockedVersions(f, app)
		}
	}
	if f, ok := v.required(file, root, "", "pipelinesProvider"); ok {
		v.follow(file, "pipelinesProvider", f)
	}
	if f, ok := v.required(file, root, "", "managedResourceTypes"); ok {
		v.stringList(file, f, "", false)
	}
	if f, ok := v.required(file, root, "", "imagePatterns"); ok {
		v.stringList(file, f, "", false)
	}
	if f, ok := get(root, "parameters"); ok {
		v.parameters(file, f, "", templateParamName)
	}
	// Cross-references the gate does not otherwise follow (slack workspace, upstream Jenkins
	// instance, image orgs…) must still resolve.
	v.allRefs(file, root)

	if !v.c.HasData() {
		v.warn(file, nil, "the workspace has no %s/ folder: $refs are checked for form only, blockedVersions are not checked, and production targets are found by TARGET only", DataDir)
	}

	rts, ok := v.required(file, root, "", "resourceTemplates")
	if ok && (rts.val == nil || rts.val.Kind != yaml.SequenceNode || len(rts.val.Content) == 0) {
		v.problem(Invalid, file, rts.key, "resourceTemplates must be a non-empty list, got %s", kindName(rts.val))
		ok = false
	}
	if ok {
		for i, rt := range items(rts.val) {
			v.resourceTemplate(file, i, rt, rts.key)
		}
	}

	switch {
	case len(v.rep.Checked) > 0:
	case v.opts.Target != "":
		v.problem(Invalid, file, nil, "TARGET %q matches no target (by target name, namespace $ref or namespace name)", v.opts.Target)
	case !v.c.HasData():
		v.problem(Invalid, file, nil, "no production target identified: without a %s/ folder the environments cannot be read; set TARGET to the production target", DataDir)
	case ok:
		v.problem(Invalid, file, rts.key, "no production target found: no target's namespace is in a production environment (servicePhase: prod, labels type: production, or a name with a prod/production part); set TARGET to name it")
	}
}

// allRefs checks every crossref in the file resolves.
func (v *validator) allRefs(file string, n *yaml.Node) {
	if n == nil {
		return
	}
	if n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			if k.Value == "$ref" && k.Kind == yaml.ScalarNode {
				if isString(val) && val.Value != "" {
					v.load(file, val)
				}
				continue
			}
			if k.Value == "parameters" {
				continue // user data, not crossrefs
			}
			v.allRefs(file, val)
		}
		return
	}
	if n.Kind == yaml.SequenceNode {
		for _, c := range n.Content {
			v.allRefs(file, c)
		}
	}
}

func (v *validator) blockedVersions(appRef field, app *yaml.Node) {
	appFile := v.fileOf(appRef)
	comps, ok := get(app, "codeComponents")
	if !ok {
		return
	}
	for _, comp := range items(comps.val) {
		bv, ok := get(comp, "blockedVersions")
		if !ok || bv.val == nil || !v.spend(appFile, len(bv.val.Content)+1) {
			continue
		}
		name := "?"
		if n, ok := get(comp, "name"); ok && isString(n.val) {
			name = n.val.Value
		}
		for _, it := range items(bv.val) {
			if isString(it) && strings.EqualFold(strings.TrimSpace(it.Value), v.opts.CommitSHA) {
				v.problem(BlockedVersion, appFile, it, "commit %s is in blockedVersions of code component %q: it must not be promoted", v.opts.CommitSHA, name)
			}
		}
	}
}

// fileOf is the file a crossref field points to (already loaded).
func (v *validator) fileOf(f field) string {
	ref, _ := get(f.val, "$ref")
	rel, _ := RefPath(ref.val.Value)
	return rel
}

func (v *validator) parameters(file string, f field, where string, names *regexp.Regexp) {
	if f.val == nil || f.val.Kind != yaml.MappingNode {
		v.problem(Invalid, file, f.key, "%sparameters must be a mapping of NAME: value, got %s", where, kindName(f.val))
		return
	}
	if !v.spend(file, len(f.val.Content)) {
		return
	}
	for _, p := range pairs(f.val) {
		if p.key.Kind != yaml.ScalarNode || !names.MatchString(p.key.Value) {
			v.problem(Invalid, file, p.key, "%sparameter name %q is not valid (must match %s)", where, p.key.Value, names.String())
		}
		if p.val == nil || p.val.Kind != yaml.ScalarNode || p.val.ShortTag() == "!!null" {
			v.problem(Invalid, file, p.key, "%sparameter %s must have a scalar value (string, number or boolean), got %s", where, p.key.Value, kindName(p.val))
		}
	}
}

func (v *validator) resourceTemplate(file string, i int, rt *yaml.Node, listKey *yaml.Node) {
	if !v.spend(file, 1) {
		return
	}
	where := fmt.Sprintf("resourceTemplates[%d]: ", i)
	if rt == nil || rt.Kind != yaml.MappingNode {
		v.problem(Invalid, file, orKey(rt, listKey), "%smust be a mapping, got %s", where, kindName(rt))
		return
	}
	name, ok := v.requireString(file, rt, where, "name")
	if ok {
		where = fmt.Sprintf("resourceTemplates[%d] %q: ", i, name)
	}
	v.requireString(file, rt, where, "url")
	if p, ok := v.requireString(file, rt, where, "path"); ok && !strings.HasPrefix(p, "/") {
		f, _ := get(rt, "path")
		v.problem(Invalid, file, f.key, "%spath %q must start with '/' (it is the path in the repository at url)", where, p)
	}
	if f, ok := get(rt, "parameters"); ok {
		v.parameters(file, f, where, templateParamName)
	}
	ts, ok := v.required(file, rt, where, "targets")
	if !ok {
		return
	}
	if ts.val == nil || ts.val.Kind != yaml.SequenceNode || len(ts.val.Content) == 0 {
		v.problem(Invalid, file, ts.key, "%stargets must be a non-empty list, got %s", where, kindName(ts.val))
		return
	}
	for j, t := range items(ts.val) {
		v.target(file, name, fmt.Sprintf("%stargets[%d]", where, j), t, ts.key)
	}
}

// target checks one target of a resource template, records it, and when it is the production
// target checks that it deploys this commit.
func (v *validator) target(file, rtName, where string, t *yaml.Node, listKey *yaml.Node) {
	if !v.spend(file, 1) {
		return
	}
	if t == nil || t.Kind != yaml.MappingNode {
		v.problem(Invalid, file, orKey(t, listKey), "%s: must be a mapping, got %s", where, kindName(t))
		return
	}
	// A target may live in its own file (saas-file-target-1.yml), referenced from the list.
	if ref, ok := get(t, "$ref"); ok && len(t.Content) == 2 {
		tf, root, ok := v.follow(file, where, field{key: ref.key, val: t})
		if !ok {
			return
		}
		file, t = tf, root
	}
	where += ": "
	tg := Target{ResourceTemplate: rtName}
	if n, ok := get(t, "name"); ok && isString(n.val) {
		tg.Name = n.val.Value
		where = strings.TrimSuffix(where, ": ") + fmt.Sprintf(" %q: ", tg.Name)
	}
	for _, p := range pairs(t) {
		if !targetKeys[p.key.Value] {
			v.warn(file, p.key, "%sunknown field %q (not in saas-file-target-1.yml): a typo?", where, p.key.Value)
		}
	}
	ref := v.targetRef(file, where, t)
	if ref != nil {
		tg.Ref = ref.Value
	}
	envRoot, bySelector := v.targetNamespace(file, where, t, &tg)
	v.targetSettings(file, where, t)

	tg.Production, tg.Why = v.isProduction(tg, envRoot)
	if !tg.Production && bySelector && v.opts.Target == "" {
		v.warn(file, t, "%suses a namespaceSelector: its environment cannot be read from the checkout; set TARGET if it is the production target", where)
	}
	v.rep.Targets = append(v.rep.Targets, tg)
	if tg.Production {
		v.productionTarget(file, where, t, tg, ref)
	}
}

// targetRef checks the target's ref and returns its value, or nil when it is missing or not a
// string (a ref of the wrong form is returned: it is reported, and it is not this commit).
func (v *validator) targetRef(file, where string, t *yaml.Node) *yaml.Node {
	f, ok := get(t, "ref")
	switch {
	case !ok:
		v.problem(Invalid, file, t, "%smissing required field \"ref\"", where)
		return nil
	case !isString(f.val):
		// An all-digit SHA parses as a number; app-interface's schema rejects it too.
		if f.val != nil && f.val.Kind == yaml.ScalarNode {
			v.problem(Invalid, file, f.key, "%sref must be a string, got %s: quote it (ref: \"%s\")", where, kindName(f.val), f.val.Value)
		} else {
			v.problem(Invalid, file, f.key, "%sref must be a string, got %s", where, kindName(f.val))
		}
		return nil
	}
	if !refPattern.MatchString(f.val.Value) {
		v.problem(Invalid, file, f.val, "%sref %q is not a 40-character commit SHA nor one of master, main, internal, stable, release-4.N", where, f.val.Value)
	}
	return f.val
}

// targetNamespace checks the target's namespace (or namespaceSelector), follows the namespace
// file to its environment, and fills tg's Namespace, NamespaceRef and Environment. It returns
// the environment file's root (nil when unknown) and whether a selector names the namespaces.
func (v *validator) targetNamespace(file, where string, t *yaml.Node, tg *Target) (envRoot *yaml.Node, bySelector bool) {
	nsField, hasNS := get(t, "namespace")
	_, hasSel := get(t, "namespaceSelector")
	switch {
	case hasNS && hasSel:
		v.problem(Invalid, file, nsField.key, "%shas both namespace and namespaceSelector: use one", where)
	case !hasNS && !hasSel:
		v.problem(Invalid, file, t, "%smissing required field \"namespace\" (or namespaceSelector)", where)
	case hasNS:
		envRoot = v.namespaceEnvironment(file, where, nsField, tg)
	case hasSel:
		tg.Namespace = "(namespaceSelector)"
	}
	if envRoot != nil {
		if n, ok := get(envRoot, "name"); ok && isString(n.val) {
			tg.Environment = n.val.Value
		}
	}
	return envRoot, hasSel
}

// namespaceEnvironment follows the namespace $ref to the namespace file (its name is tg's
// Namespace) and from there to its environment file, whose root it returns (nil when unknown).
func (v *validator) namespaceEnvironment(file, where string, nsField field, tg *Target) *yaml.Node {
	ref := v.crossref(file, where+"namespace", nsField)
	if ref == nil {
		return nil
	}
	tg.NamespaceRef = ref.Value
	tg.Namespace = strings.TrimSuffix(path.Base(ref.Value), path.Ext(ref.Value))
	nsFile, nsRoot, ok := v.load(file, ref)
	if !ok {
		return nil
	}
	if n, ok := get(nsRoot, "name"); ok && isString(n.val) {
		tg.Namespace = n.val.Value
	}
	ef, ok := get(nsRoot, "environment")
	if !ok {
		v.problem(Invalid, nsFile, nsRoot, "namespace has no environment: cannot tell whether it is production")
		return nil
	}
	if _, env, ok := v.follow(nsFile, "environment", ef); ok {
		return env
	}
	return nil
}

// targetSettings checks the rest of a target's fields: parameters, promotion, upstream, and
// the types of disable and delete.
func (v *validator) targetSettings(file, where string, t *yaml.Node) {
	if f, ok := get(t, "parameters"); ok {
		v.parameters(file, f, where, targetParamName)
	}
	v.promotion(file, t, where)
	if f, ok := get(t, "upstream"); ok {
		if f.val == nil || f.val.Kind != yaml.MappingNode {
			v.problem(Invalid, file, f.key, "%supstream must be a mapping with instance and name, got %s", where, kindName(f.val))
		} else {
			if inst, ok := v.required(file, f.val, where+"upstream: ", "instance"); ok {
				v.crossref(file, where+"upstream.instance", inst)
			}
			v.requireString(file, f.val, where+"upstream: ", "name")
		}
	}
	for _, key := range []string{"disable", "delete"} {
		if f, ok := get(t, key); ok && (f.val == nil || f.val.ShortTag() != "!!bool") {
			v.problem(Invalid, file, f.key, "%s%s must be true or false, got %s", where, key, kindName(f.val))
		}
	}
}

// productionTarget records tg as a checked production target and reports what stops it from
// deploying this commit: another ref (ref is nil when the ref was unusable, already reported),
// or disable or delete set.
func (v *validator) productionTarget(file, where string, t *yaml.Node, tg Target, ref *yaml.Node) {
	v.rep.Checked = append(v.rep.Checked, tg)
	if ref != nil && tg.Ref != v.opts.CommitSHA {
		v.rep.Problems = append(v.rep.Problems, Problem{Kind: RefMismatch, File: file, Line: ref.Line, Target: tg.Label(), Got: tg.Ref,
			Msg: fmt.Sprintf("%sproduction target %s has ref %s, want %s (this commit)", where, tg.Label(), tg.Ref, v.opts.CommitSHA)})
	}
	for _, key := range []string{"disable", "delete"} {
		if f, ok := get(t, key); ok && isBool(f.val, true) {
			v.problem(Invalid, file, f.key, "%sproduction target %s has %s: true: it would not be deployed", where, tg.Label(), key)
		}
	}
}

func (v *validator) promotion(file string, t *yaml.Node, where string) {
	f, ok := get(t, "promotion")
	if !ok {
		return
	}
	if f.val == nil || f.val.Kind != yaml.MappingNode {
		v.problem(Invalid, file, f.key, "%spromotion must be a mapping, got %s", where, kindName(f.val))
		return
	}
	var subscribe []string
	for _, key := range []string{"publish", "subscribe"} {
		if l, ok := get(f.val, key); ok {
			got := v.stringList(file, l, where+"promotion.", true)
			if key == "subscribe" {
				subscribe = got
			}
		}
	}
	if a, ok := get(f.val, "auto"); ok {
		if a.val == nil || a.val.ShortTag() != "!!bool" {
			v.problem(Invalid, file, a.key, "%spromotion.auto must be true or false, got %s", where, kindName(a.val))
		} else if isBool(a.val, true) && len(subscribe) == 0 {
			v.problem(Invalid, file, a.key, "%spromotion.auto is true but promotion.subscribe is not set: auto-promotion needs the channel(s) it follows", where)
		}
	}
}

// isProduction decides whether a target is a production one. An explicit TARGET wins; otherwise
// the environment of the target's namespace says so: its servicePhase when set (the schema's own
// field), else a `type`/`environment`/`phase` label of prod/production, else a name with a
// prod/production part (production, app-sre-prod, prod-us; not preprod).
func (v *validator) isProduction(tg Target, env *yaml.Node) (bool, string) {
	if v.opts.Target != "" {
		if matchesTarget(v.opts.Target, tg) {
			return true, "named by TARGET"
		}
		return false, ""
	}
	if env == nil {
		return false, ""
	}
	if f, ok := get(env, "servicePhase"); ok && isString(f.val) {
		if f.val.Value == "prod" {
			return true, "environment servicePhase: prod"
		}
		return false, ""
	}
	if labels, ok := get(env, "labels"); ok {
		for _, key := range []string{"type", "environment", "phase"} {
			if l, ok := get(labels.val, key); ok && isString(l.val) && isProdWord(strings.ToLower(l.val.Value)) {
				return true, fmt.Sprintf("environment label %s: %s", key, l.val.Value)
			}
		}
	}
	if n, ok := get(env, "name"); ok && isString(n.val) {
		for _, part := range strings.FieldsFunc(strings.ToLower(n.val.Value), func(r rune) bool { return r == '-' || r == '_' || r == '.' }) {
			if isProdWord(part) {
				return true, fmt.Sprintf("environment name %s", n.val.Value)
			}
		}
	}
	return false, ""
}

func isProdWord(s string) bool { return s == "prod" || s == "production" }

func matchesTarget(want string, tg Target) bool {
	want = strings.TrimSpace(want)
	if want == tg.Name || want == tg.Namespace || want == tg.Label() {
		return true
	}
	if tg.NamespaceRef == "" {
		return false
	}
	norm := func(s string) string { return strings.TrimPrefix(strings.TrimPrefix(s, "/"), DataDir+"/") }
	return norm(want) == norm(tg.NamespaceRef)
}
