package store

import (
	"fmt"
	"math"
	"strconv"

	"go.yaml.in/yaml/v3"

	"github.com/release-to-prod/release-to-prod/pkg/step/knowledge"
)

// maxDepth bounds the nesting of a document (the format needs four levels) and alias chains.
const maxDepth = 16

// Parse validates the ConfigMap's data: each key a YAML document of the format (see package
// knowledge). A key that is not YAML, too large or of another version is warned about and
// ignored; so is each bad entry. The rest is used. A warning about known-issues.yaml that could
// hide a blocking issue has MayBlock set (the known-issues gate fails closed on it).
//
// The byte budget (knowledge.MaxStoreBytes) counts the two keys the store reads, known issues
// first: another key (an archive, notes) is neither parsed nor counted, so that it cannot use
// the budget up and push the known issues out.
func Parse(data map[string]string) (*knowledge.Store, []knowledge.Warning) {
	var warns []knowledge.Warning
	docs := map[string]any{}
	total := 0
	for _, key := range []string{knowledge.KnownIssuesKey, knowledge.LearnedFixesKey} {
		raw, ok := data[key]
		if !ok {
			continue
		}
		mayBlock := key == knowledge.KnownIssuesKey
		if total+len(raw) > knowledge.MaxStoreBytes {
			warns = append(warns, knowledge.Warning{Key: key, MayBlock: mayBlock,
				Err: fmt.Sprintf("the store is over %d bytes with this key (%d bytes): the key is ignored; move old entries out", knowledge.MaxStoreBytes, len(raw))})
			continue
		}
		total += len(raw)
		doc, err := decodeYAML(raw)
		if err != nil {
			msg := fmt.Sprintf("not valid YAML: %v: the key is ignored", err)
			if mayBlock {
				msg += ` (a text that holds ": " must be quoted: message: "x: y")`
			}
			warns = append(warns, knowledge.Warning{Key: key, Err: msg, MayBlock: mayBlock})
			continue
		}
		docs[key] = doc
	}
	for key := range data {
		if key != knowledge.KnownIssuesKey && key != knowledge.LearnedFixesKey {
			docs[key] = nil // not parsed: Decode warns that it is unknown
		}
	}
	s, more := knowledge.Decode(docs)
	return s, append(warns, more...)
}

// decodeYAML parses one document into generic values. It walks the node tree itself rather than
// decoding into any: scalars stay text unless tagged bool, int or null (an expiry is text to
// validate, not a time.Time the YAML library guessed), a key defined twice is an error, and
// nesting is bounded.
func decodeYAML(raw string) (any, error) {
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(raw), &n); err != nil {
		return nil, err
	}
	if n.Kind == 0 { // empty document
		return nil, nil
	}
	budget := maxNodes
	return toGeneric(&n, 0, &budget)
}

// maxNodes bounds the values a document expands to: aliases can make a small document huge.
const maxNodes = 100_000

func toGeneric(n *yaml.Node, depth int, budget *int) (any, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("line %d: nested too deep", n.Line)
	}
	if *budget--; *budget < 0 {
		return nil, fmt.Errorf("line %d: the document expands to more than %d values (aliases?)", n.Line, maxNodes)
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil, nil
		}
		return toGeneric(n.Content[0], depth+1, budget)
	case yaml.AliasNode:
		return toGeneric(n.Alias, depth+1, budget)
	case yaml.MappingNode:
		return mappingToGeneric(n, depth, budget)
	case yaml.SequenceNode:
		l := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			val, err := toGeneric(c, depth+1, budget)
			if err != nil {
				return nil, err
			}
			l = append(l, val)
		}
		return l, nil
	case yaml.ScalarNode:
		return scalarToGeneric(n)
	}
	return nil, fmt.Errorf("line %d: unexpected YAML", n.Line)
}

func mappingToGeneric(n *yaml.Node, depth int, budget *int) (any, error) {
	m := make(map[string]any, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			return nil, fmt.Errorf("line %d: a key must be text", k.Line)
		}
		if _, dup := m[k.Value]; dup {
			return nil, fmt.Errorf("line %d: key %q defined twice", k.Line, k.Value)
		}
		val, err := toGeneric(v, depth+1, budget)
		if err != nil {
			return nil, err
		}
		m[k.Value] = val
	}
	return m, nil
}

func scalarToGeneric(n *yaml.Node) (any, error) {
	switch n.ShortTag() {
	case "!!null":
		return nil, nil
	case "!!bool":
		var b bool
		if err := n.Decode(&b); err != nil {
			return nil, fmt.Errorf("line %d: %w", n.Line, err)
		}
		return b, nil
	case "!!int":
		i, err := strconv.ParseInt(n.Value, 0, 64)
		if err != nil || i > math.MaxInt32 || i < math.MinInt32 {
			return n.Value, nil // validation says it is not a number in range
		}
		return i, nil
	}
	return n.Value, nil
}
