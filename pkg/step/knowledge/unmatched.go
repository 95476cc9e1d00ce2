package knowledge

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Unmatched is a failure that neither the catalog nor the team explained: what the history
// records so that someone can teach it.
type Unmatched struct {
	Step        string `json:"step"`
	ID          string `json:"id,omitempty"` // UnknownID, or a catalog id a learned fix could refine
	Status      int    `json:"status,omitempty"`
	Fingerprint string `json:"fingerprint"`
	Message     string `json:"message"`
}

// MaxMessage bounds the message of an Unmatched in the history.
const MaxMessage = 500

// UnmatchedOf returns the record of an explanation that knows nothing, the message bounded.
func UnmatchedOf(e Explanation) Unmatched {
	return Unmatched{Step: e.Failure.Step, ID: e.Failure.ID, Status: e.Failure.Status, Fingerprint: e.Fingerprint,
		Message: Text(e.Failure.Message, MaxMessage)}
}

// Bounded returns u with every field bounded and plain.
func (u Unmatched) Bounded() Unmatched {
	u.Step, u.ID, u.Message = Text(u.Step, maxName), Text(u.ID, maxName), Text(u.Message, MaxMessage)
	if !IsFingerprint(u.Fingerprint) {
		u.Fingerprint = ""
	}
	return u
}

// UnmatchedFile is the file a step that failed without explanation leaves beside its results
// (like step.AdviceFile, not a declared result): the gate verdict collects it into
// UNKNOWN_FAILURES, which record-history puts in the history.
const UnmatchedFile = "UNKNOWN_FAILURE"

// WriteUnmatched writes u into dir.
func WriteUnmatched(dir string, u Unmatched) error {
	b, err := json.Marshal(u.Bounded())
	if err != nil {
		return fmt.Errorf("encoding the unknown failure: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("writing the unknown failure: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, UnmatchedFile), b, 0o644); err != nil {
		return fmt.Errorf("writing the unknown failure: %w", err)
	}
	return nil
}

// ReadUnmatched reads the file WriteUnmatched wrote into dir.
func ReadUnmatched(dir string) (Unmatched, error) {
	b, err := os.ReadFile(filepath.Join(dir, UnmatchedFile))
	if err != nil {
		return Unmatched{}, err
	}
	if len(b) > 4*MaxMessage+1024 {
		return Unmatched{}, fmt.Errorf("%s is too large", UnmatchedFile)
	}
	var u Unmatched
	if err := json.Unmarshal(b, &u); err != nil {
		return Unmatched{}, fmt.Errorf("%s: %w", UnmatchedFile, err)
	}
	return u.Bounded(), nil
}

// EncodeUnmatched is the UNKNOWN_FAILURES result: a JSON list within max bytes. Messages are
// shortened (the step's log has them whole) and, if it must, entries dropped, so that the
// result never crowds out the others of the TaskRun.
func EncodeUnmatched(list []Unmatched, max int) string {
	if len(list) == 0 {
		return ""
	}
	for msgLen := 200; ; msgLen /= 2 {
		short := make([]Unmatched, len(list))
		for i, u := range list {
			u = u.Bounded()
			u.Message = clip(u.Message, msgLen)
			short[i] = u
		}
		for n := len(short); n > 0; n-- {
			b, err := json.Marshal(short[:n])
			if err == nil && len(b) <= max {
				return string(b)
			}
			if msgLen > 20 {
				break // shorten the messages before dropping entries
			}
		}
		if msgLen <= 20 {
			return ""
		}
	}
}

// DecodeUnmatched reads the UNKNOWN_FAILURES result; empty is none.
func DecodeUnmatched(s string) ([]Unmatched, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	var list []Unmatched
	if err := json.Unmarshal([]byte(s), &list); err != nil {
		return nil, fmt.Errorf("UNKNOWN_FAILURES is not the gate verdict's JSON list: %w", err)
	}
	out := list[:0]
	for _, u := range list {
		if u = u.Bounded(); u.Fingerprint != "" {
			out = append(out, u)
		}
	}
	return out, nil
}
