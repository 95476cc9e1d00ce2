package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"

	"go.yaml.in/yaml/v3"

	"github.com/release-to-prod/release-to-prod/pkg/clients/konflux"
	"github.com/release-to-prod/release-to-prod/pkg/step/knowledge"
)

// Teach puts fix first in the learned-fixes.yaml key of the ConfigMap name (creating the
// ConfigMap when it is missing), replacing an entry taught earlier for the same fingerprint.
// Nothing else changes: known-issues.yaml, the comments and the other entries (invalid ones
// too) stay as written. The update carries the resourceVersion read, so a concurrent change is
// never overwritten: on a conflict Teach reads again and retries, for as long as others get
// theirs in first, within ctx (at most TeachTimeout). It returns whether an earlier entry was
// replaced.
func Teach(ctx context.Context, dyn dynamic.Interface, namespace, name string, fix knowledge.LearnedFix) (bool, error) {
	if err := validate(fix); err != nil {
		return false, err
	}
	ctx, cancel := context.WithTimeout(ctx, TeachTimeout)
	defer cancel()
	t := teaching{res: dyn.Resource(configMaps).Namespace(namespace), namespace: namespace, name: name, fix: fix}
	err := konflux.RetryConflicts(ctx, teachBackoff, func() error {
		u, err := t.res.Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return t.create(ctx)
		}
		if err != nil {
			return err
		}
		return t.update(ctx, u)
	})
	if err != nil {
		if isAPIStatus(err) {
			return false, apiError(fmt.Errorf("teaching the fix: %w", err), namespace, name, "create/update")
		}
		return false, err
	}
	return t.replaced, nil
}

// TeachTimeout bounds one Teach, its retries on conflicts included: a whole team teaching at
// once gets through in a second or two; a store that keeps changing for longer is not one a
// person should wait on.
const TeachTimeout = 30 * time.Second

// teachBackoff spreads out people teaching at once (a variable for tests).
var teachBackoff = konflux.ConflictBackoff()

// teaching is one Teach: the ConfigMap it writes, the fix, and whether the attempt that
// wrote it replaced an earlier entry.
type teaching struct {
	res             dynamic.ResourceInterface
	namespace, name string
	fix             knowledge.LearnedFix
	replaced        bool
}

func (t *teaching) create(ctx context.Context) error {
	doc, r, err := withFix("", t.fix)
	if err != nil {
		return err
	}
	t.replaced = r
	cm := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": t.name, "labels": map[string]any{"app.kubernetes.io/part-of": "release-to-prod"}},
		"data":     map[string]any{knowledge.LearnedFixesKey: doc},
	}}
	_, err = t.res.Create(ctx, cm, metav1.CreateOptions{FieldManager: "tkn-local"})
	return err
}

// update writes the fix into u as read, whose resourceVersion makes a concurrent change a
// conflict rather than a lost write.
func (t *teaching) update(ctx context.Context, u *unstructured.Unstructured) error {
	namespace, name := t.namespace, t.name
	data, _, err := unstructured.NestedStringMap(u.Object, "data")
	if err != nil {
		return fmt.Errorf("ConfigMap %s/%s: data: %w", namespace, name, err)
	}
	doc, r, err := withFix(data[knowledge.LearnedFixesKey], t.fix)
	if err != nil {
		return fmt.Errorf("ConfigMap %s/%s, key %s: %w", namespace, name, knowledge.LearnedFixesKey, err)
	}
	if err := withinPatternBudget(data[knowledge.LearnedFixesKey], doc); err != nil {
		return fmt.Errorf("ConfigMap %s/%s: %w", namespace, name, err)
	}
	size := len(doc)
	for k, v := range data {
		if k != knowledge.LearnedFixesKey {
			size += len(v)
		}
	}
	if size > knowledge.MaxStoreBytes {
		return fmt.Errorf("ConfigMap %s/%s would hold %d bytes, over the store's limit of %d: remove old entries first (kubectl edit configmap %s -n %s)",
			namespace, name, size, knowledge.MaxStoreBytes, name, namespace)
	}
	t.replaced = r
	if err := unstructured.SetNestedField(u.Object, doc, "data", knowledge.LearnedFixesKey); err != nil {
		return fmt.Errorf("ConfigMap %s/%s: %w", namespace, name, err)
	}
	_, err = t.res.Update(ctx, u, metav1.UpdateOptions{FieldManager: "tkn-local"})
	return err
}

func isAPIStatus(err error) bool {
	var s apierrors.APIStatus
	return errors.As(err, &s)
}

// withinPatternBudget refuses a document whose patterns together are over the store's budget
// (knowledge.MaxStorePrograms) where the document before was not: the new entry comes first,
// so it would push entries taught earlier out.
func withinPatternBudget(before, after string) error {
	_, was := Parse(map[string]string{knowledge.LearnedFixesKey: before})
	_, is := Parse(map[string]string{knowledge.LearnedFixesKey: after})
	if knowledge.OverPatternBudget(is) > knowledge.OverPatternBudget(was) {
		return fmt.Errorf("with this pattern the store's patterns would be over their limit of %d regexp instructions together, and entries taught earlier would be skipped: use a simpler pattern, or remove old entries first", knowledge.MaxStorePrograms)
	}
	return nil
}

// validate refuses an entry the steps would skip.
func validate(fix knowledge.LearnedFix) error {
	_, warns := knowledge.Decode(map[string]any{knowledge.LearnedFixesKey: map[string]any{
		"version": knowledge.Version, "fixes": []any{generic(fix)}}})
	if len(warns) > 0 {
		msgs := make([]string, len(warns))
		for i, w := range warns {
			msgs[i] = w.Err
		}
		return fmt.Errorf("the entry is not valid: %s", strings.Join(msgs, "; "))
	}
	return nil
}

// generic is fix as the generic values a decoded document holds.
func generic(fix knowledge.LearnedFix) any {
	b, err := yaml.Marshal(fix)
	if err != nil {
		return nil
	}
	v, err := decodeYAML(string(b))
	if err != nil {
		return nil
	}
	return v
}

// withFix returns the document raw with fix first in its fixes list (an entry for the same
// fingerprint removed), and whether one was.
func withFix(raw string, fix knowledge.LearnedFix) (string, bool, error) {
	doc, fixes, err := fixesList(raw)
	if err != nil {
		return "", false, err
	}
	var entry yaml.Node
	if err := entry.Encode(fix); err != nil {
		return "", false, fmt.Errorf("encoding the entry: %w", err)
	}
	kept := []*yaml.Node{&entry}
	replaced := false
	for _, e := range fixes.Content {
		if fp := valueOf(valueOf(e, "match"), "fingerprint"); fix.Match.Fingerprint != "" && fp != nil && strings.EqualFold(fp.Value, fix.Match.Fingerprint) {
			replaced = true
			continue
		}
		kept = append(kept, e)
	}
	fixes.Content = kept
	fixes.Style = 0 // block style, one entry after the other
	// Two-space indentation, as people write it (and the README shows it), so that an entry
	// added by hand with kubectl edit lines up with the taught ones.
	var b strings.Builder
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return "", false, fmt.Errorf("encoding the document: %w", err)
	}
	if err := enc.Close(); err != nil {
		return "", false, fmt.Errorf("encoding the document: %w", err)
	}
	return b.String(), replaced, nil
}

// fixesList parses raw (an empty document is a new one) and returns it with its fixes list,
// adding the version and the list where they are missing; it refuses what it cannot change
// without losing what a person wrote.
func fixesList(raw string) (*yaml.Node, *yaml.Node, error) {
	var doc yaml.Node
	if strings.TrimSpace(raw) != "" {
		if err := yaml.Unmarshal([]byte(raw), &doc); err != nil {
			return nil, nil, fmt.Errorf("not valid YAML (%w): fix it by hand first, nothing was changed", err)
		}
	}
	if doc.Kind == 0 {
		doc = yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{{Kind: yaml.MappingNode}}}
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, nil, errors.New("not a mapping with version and fixes: fix it by hand first, nothing was changed")
	}
	root := doc.Content[0]
	version, fixes := valueOf(root, "version"), valueOf(root, "fixes")
	if version == nil {
		root.Content = append([]*yaml.Node{
			{Kind: yaml.ScalarNode, Value: "version"},
			{Kind: yaml.ScalarNode, Tag: "!!int", Value: fmt.Sprint(knowledge.Version)},
		}, root.Content...)
	} else if version.Value != fmt.Sprint(knowledge.Version) {
		return nil, nil, fmt.Errorf("version %s is not %d: nothing was changed", version.Value, knowledge.Version)
	}
	if fixes == nil {
		fixes = &yaml.Node{Kind: yaml.SequenceNode}
		root.Content = append(root.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: "fixes"}, fixes)
	}
	if fixes.Kind == yaml.ScalarNode && fixes.ShortTag() == "!!null" {
		*fixes = yaml.Node{Kind: yaml.SequenceNode}
	}
	if fixes.Kind != yaml.SequenceNode {
		return nil, nil, errors.New("fixes is not a list: fix it by hand first, nothing was changed")
	}
	return &doc, fixes, nil
}

// valueOf is the value of key in the mapping n, nil when n is not a mapping or has no key.
func valueOf(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}
