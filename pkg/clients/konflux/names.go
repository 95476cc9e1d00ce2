package konflux

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/release-to-prod/release-to-prod/pkg/step/failure"
)

// ValidNames checks the names a step is given — namespace, component, application, Snapshot,
// ReleasePlan — before any is sent to the API server or printed: Kubernetes names are
// DNS-1123 labels (63 characters of a-z, 0-9 and '-'), so a newline, a shell metacharacter, a
// look-alike letter or a 10,000-character value is invalid input, quoted in the message, never
// a "not found" from the server. Keys are the settings' names; empty values are an error.
func ValidNames(names map[string]string) error {
	for _, k := range slices.Sorted(maps.Keys(names)) {
		v := names[k]
		if v == "" {
			return failure.New(failure.InvalidInput, nil, "%s is empty", k)
		}
		if errs := validation.IsDNS1123Label(v); len(errs) > 0 {
			return failure.New(failure.InvalidInput, nil, "%s %s is not a valid Kubernetes name: %s", k, quote(v), strings.Join(errs, "; "))
		}
	}
	return nil
}

// quote shows a user value safely: Go-quoted (control characters escaped) and truncated.
func quote(s string) string {
	if r := []rune(s); len(r) > 64 {
		return fmt.Sprintf("%q… (%d characters)", string(r[:64]), len(r))
	}
	return fmt.Sprintf("%q", s)
}
