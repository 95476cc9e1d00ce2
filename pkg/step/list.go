package step

import "strings"

// Pair is one item of a setting that lists name=value items separated by commas (GATES,
// PLATFORM_DIGESTS): Item as given, Name and Value trimmed; OK is false when the item has no
// "=" or no name.
type Pair struct {
	Item, Name, Value string
	OK                bool
}

// Pairs splits such a setting; empty items are passed over.
func Pairs(s string) []Pair {
	var out []Pair
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		name, value, ok := strings.Cut(item, "=")
		name = strings.TrimSpace(name)
		out = append(out, Pair{Item: item, Name: name, Value: strings.TrimSpace(value), OK: ok && name != ""})
	}
	return out
}
