package knowledge

import (
	"crypto/sha256"
	"encoding/hex"
	"regexp"
	"strings"
)

// FingerprintLength is the length of a fingerprint in hex digits (48 bits: collisions among the
// few hundred failures a history holds are out of the question).
const FingerprintLength = 12

// maxNormalised bounds the message text that is normalised and hashed.
const maxNormalised = 2048

// The parts of a message that differ between two occurrences of the same failure, replaced in
// this order (earlier rules see the text before later ones rewrite it).
var normalisers = []struct {
	re   *regexp.Regexp
	with string
}{
	{regexp.MustCompile(`[A-Za-z][A-Za-z0-9+.-]*://[^\s"'<>]+`), "<url>"},
	{regexp.MustCompile(`(?i)\bsha(256|384|512):[0-9a-f]{16,}`), "<digest>"},
	{regexp.MustCompile(`\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?`), "<time>"},
	{regexp.MustCompile(`\b\d{1,2}:\d{2}:\d{2}(\.\d+)?\b`), "<time>"},
	{regexp.MustCompile(`(?i)\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b`), "<id>"},
	{regexp.MustCompile(`[\w.+-]+@[\w-]+(\.[\w-]+)+`), "<email>"},
	{regexp.MustCompile(`"[^"\n]{0,200}"|'[^'\n]{0,200}'`), `"<name>"`},
}

// generatedName is a Kubernetes-style name one of whose dash-separated parts carries a digit or
// is a five-character suffix from Kubernetes' generateName alphabet (no vowels, so that words
// are not taken for suffixes): release-to-prod-x7k2p, release-to-prod-run-42.
var (
	hexToken    = regexp.MustCompile(`(?i)\b[0-9a-f]{7,}\b`)
	nameToken   = regexp.MustCompile(`\b[a-z0-9]+(?:[-.][a-z0-9]+)+\b`)
	generated   = regexp.MustCompile(`^[bcdfghjklmnpqrstvwxz2456789]{5}$`)
	hasDigit    = regexp.MustCompile(`[0-9]`)
	number      = regexp.MustCompile(`\d+`)
	whitespaces = regexp.MustCompile(`\s+`)
)

// Normalise returns the message without what changes from one occurrence of a failure to the
// next: URLs, digests, timestamps, UUIDs, commit SHAs and hex ids, e-mail addresses, quoted
// names, generated object names and numbers.
func Normalise(msg string) string {
	if len(msg) > maxNormalised {
		msg = msg[:maxNormalised]
	}
	msg = strings.ToValidUTF8(msg, "?")
	// Spaces first: the rules below must see the text as it ends up (normalising is idempotent).
	msg = strings.TrimSpace(whitespaces.ReplaceAllLiteralString(msg, " "))
	for _, n := range normalisers {
		msg = n.re.ReplaceAllLiteralString(msg, n.with)
	}
	// Commit SHAs and other hex ids: 7 or more hex digits, at least one of them a digit (so
	// that words such as "deadbeef" stay).
	msg = hexToken.ReplaceAllStringFunc(msg, func(tok string) string {
		if hasDigit.MatchString(tok) {
			return "<hex>"
		}
		return tok
	})
	msg = nameToken.ReplaceAllStringFunc(msg, func(tok string) string {
		for _, part := range strings.FieldsFunc(tok, func(r rune) bool { return r == '-' || r == '.' }) {
			if generated.MatchString(part) || hasDigit.MatchString(part) {
				return "<name>"
			}
		}
		return tok
	})
	msg = number.ReplaceAllLiteralString(msg, "<n>")
	return strings.TrimSpace(whitespaces.ReplaceAllLiteralString(msg, " "))
}

// Fingerprint names a failure stably across runs: a short hash of the step, the failure id and
// the normalised message.
func Fingerprint(f Failure) string {
	id := f.ID
	if id == "" {
		id = UnknownID
	}
	sum := sha256.Sum256([]byte("release-to-prod/v1\x00" + f.Step + "\x00" + id + "\x00" + Normalise(f.Message)))
	return hex.EncodeToString(sum[:])[:FingerprintLength]
}

// IsFingerprint reports whether s has the form of a fingerprint.
func IsFingerprint(s string) bool {
	if len(s) != FingerprintLength {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}
