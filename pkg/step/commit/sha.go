// Package commit validates the commit SHA that names what is released.
//
// Konflux tags staging images with the full 40-character commit SHA, so a short SHA can never
// name an image: it is rejected before any network call.
package commit

import (
	"errors"
	"fmt"
	"strings"
)

// ErrInvalidSHA is wrapped by every error ParseSHA returns.
var ErrInvalidSHA = errors.New("invalid commit SHA")

// maxQuoted bounds how much of a bad value is echoed back, so a pasted log line or a secret
// pasted by mistake does not flood the output.
const maxQuoted = 48

// ParseSHA trims and lower-cases s and returns it when it is exactly 40 hexadecimal characters.
func ParseSHA(s string) (string, error) {
	v := strings.ToLower(strings.TrimSpace(s))
	switch {
	case v == "":
		return "", fmt.Errorf("%w: empty: pass the full 40-character commit SHA", ErrInvalidSHA)
	case isHex(v) && len(v) == 40:
		return v, nil
	case isHex(v) && len(v) >= 7 && len(v) <= 12:
		return "", fmt.Errorf("%w: %s is a short SHA: short SHAs never exist as image tags: pass the full 40-character SHA (git rev-parse %s)",
			ErrInvalidSHA, quote(v), v)
	case isHex(v):
		return "", fmt.Errorf("%w: %s has %d hex characters, want exactly 40", ErrInvalidSHA, quote(v), len(v))
	default:
		return "", fmt.Errorf("%w: %s is not a hexadecimal commit SHA: pass the full 40-character SHA", ErrInvalidSHA, quote(s))
	}
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return s != ""
}

// quote renders a user value safely: Go-quoted (so newlines and control characters show as
// escapes, never as terminal output) and truncated.
func quote(s string) string {
	r := []rune(s)
	if len(r) > maxQuoted {
		return fmt.Sprintf("%q… (%d characters)", string(r[:maxQuoted]), len(r))
	}
	return fmt.Sprintf("%q", s)
}
