package appinterface

import (
	"fmt"
	"regexp"
	"strconv"

	"go.yaml.in/yaml/v3"
)

// SyntaxError is a YAML file that does not parse.
type SyntaxError struct {
	File string
	Line int // 0 when the parser did not say
	Msg  string
}

func (e *SyntaxError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: YAML syntax error: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: YAML syntax error: %s", e.File, e.Msg)
}

var yamlLineError = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// parseYAML parses the first document of b and returns its root, which is never an alias. An
// empty file is a *SyntaxError too: a data file must be a mapping.
func parseYAML(file string, b []byte) (*yaml.Node, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		se := &SyntaxError{File: file, Msg: err.Error()}
		if m := yamlLineError.FindStringSubmatch(err.Error()); m != nil {
			se.Line, _ = strconv.Atoi(m[1])
			se.Msg = m[2]
		}
		return nil, se
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil, &SyntaxError{File: file, Line: 1, Msg: "the file is empty"}
	}
	root := deref(doc.Content[0])
	if root == nil || root.Kind != yaml.MappingNode {
		return nil, &SyntaxError{File: file, Line: doc.Content[0].Line, Msg: "the document is not a mapping (key: value)"}
	}
	return root, nil
}

// deref follows aliases. A chain is bounded so that a crafted file cannot loop.
func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 16; i++ {
		n = n.Alias
	}
	if n != nil && n.Kind == yaml.AliasNode {
		return nil
	}
	return n
}

// field is one key of a mapping: the key node (for its line) and the value (aliases followed).
type field struct {
	key, val *yaml.Node
}

// get returns the value of key in mapping m; ok is false when absent or m is not a mapping.
func get(m *yaml.Node, key string) (field, bool) {
	m = deref(m)
	if m == nil || m.Kind != yaml.MappingNode {
		return field{}, false
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k := m.Content[i]
		if k.Kind == yaml.ScalarNode && k.Value == key {
			return field{key: k, val: deref(m.Content[i+1])}, true
		}
	}
	return field{}, false
}

// pairs lists the keys and values of mapping m.
func pairs(m *yaml.Node) []field {
	m = deref(m)
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	out := make([]field, 0, len(m.Content)/2)
	for i := 0; i+1 < len(m.Content); i += 2 {
		out = append(out, field{key: m.Content[i], val: deref(m.Content[i+1])})
	}
	return out
}

// items lists the elements of sequence s.
func items(s *yaml.Node) []*yaml.Node {
	s = deref(s)
	if s == nil || s.Kind != yaml.SequenceNode {
		return nil
	}
	out := make([]*yaml.Node, 0, len(s.Content))
	for _, n := range s.Content {
		out = append(out, deref(n))
	}
	return out
}

func isString(n *yaml.Node) bool {
	return n != nil && n.Kind == yaml.ScalarNode && n.ShortTag() == "!!str"
}

func isBool(n *yaml.Node, want bool) bool {
	if n == nil || n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" {
		return false
	}
	var b bool
	return n.Decode(&b) == nil && b == want
}

func kindName(n *yaml.Node) string {
	if n == nil {
		return "nothing"
	}
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			return "null"
		case "!!bool":
			return "a boolean"
		case "!!int", "!!float":
			return "a number"
		}
		return "a string"
	}
	return "an unknown node"
}

// line is the line of n, 0 when unknown.
func line(n *yaml.Node) int {
	if n == nil {
		return 0
	}
	return n.Line
}

// duplicateKeys finds keys defined twice in one mapping anywhere under n. yaml.v3 reports them
// only when decoding into Go values, and a second `ref:` silently winning is exactly the kind of
// mistake this gate is for. Aliases are not followed, so a crafted file cannot make this walk
// exponential.
func duplicateKeys(n *yaml.Node, visit func(first, dup *yaml.Node)) {
	if n == nil {
		return
	}
	if n.Kind == yaml.MappingNode {
		seen := map[string]*yaml.Node{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if k.Kind == yaml.ScalarNode && k.Value != "<<" {
				if first, ok := seen[k.Value]; ok {
					visit(first, k)
				} else {
					seen[k.Value] = k
				}
			}
		}
	}
	for _, c := range n.Content {
		duplicateKeys(c, visit)
	}
}
