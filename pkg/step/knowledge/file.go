package knowledge

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// The store file hands the validated store from the step that read the ConfigMap to the other
// steps of its pod (KNOWLEDGE_FILE): JSON, the same documents as the ConfigMap's keys, holding
// only the entries that passed validation, plus where they came from.
type fileFormat struct {
	Version   int            `json:"version"`
	Namespace string         `json:"namespace,omitempty"`
	ConfigMap string         `json:"configMap,omitempty"`
	Found     bool           `json:"found"`
	Documents map[string]any `json:"documents"`
}

// maxFileBytes bounds what ReadFile reads: a file written by WriteFile is far smaller, since
// every entry is bounded.
const maxFileBytes = 2 * MaxStoreBytes

// Documents returns the store as the documents of its keys, as the ConfigMap holds them.
func (s *Store) Documents() (KnownIssuesDoc, LearnedFixesDoc) {
	k := KnownIssuesDoc{Version: Version, Issues: s.KnownIssues}
	l := LearnedFixesDoc{Version: Version, Fixes: s.LearnedFixes}
	if k.Issues == nil {
		k.Issues = []KnownIssue{}
	}
	if l.Fixes == nil {
		l.Fixes = []LearnedFix{}
	}
	return k, l
}

// WriteFile writes the store to path atomically (a reader never sees half a file).
func WriteFile(path string, s *Store) error {
	k, l := s.Documents()
	b, err := json.Marshal(fileFormat{Version: Version, Namespace: s.Namespace, ConfigMap: s.ConfigMap, Found: s.Found,
		Documents: map[string]any{KnownIssuesKey: k, LearnedFixesKey: l}})
	if err != nil {
		return fmt.Errorf("encoding the knowledge file: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("writing the knowledge file: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("writing the knowledge file: %w", err)
	}
	_, werr := tmp.Write(b)
	if cerr := tmp.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		// Readable by the other steps of the pod, which may run as other users.
		werr = os.Chmod(tmp.Name(), 0o644)
	}
	if werr == nil {
		werr = os.Rename(tmp.Name(), path)
	}
	if werr != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("writing the knowledge file %s: %w", path, werr)
	}
	return nil
}

// ReadFile reads a store written by WriteFile. A missing file is an error the caller can test
// with errors.Is(err, fs.ErrNotExist).
func ReadFile(path string) (*Store, []Warning, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("reading the knowledge file: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxFileBytes+1))
	if err != nil {
		return nil, nil, fmt.Errorf("reading the knowledge file %s: %w", path, err)
	}
	if len(b) > maxFileBytes {
		return nil, nil, fmt.Errorf("the knowledge file %s is over %d bytes: not read", path, maxFileBytes)
	}
	var ff fileFormat
	if err := json.Unmarshal(b, &ff); err != nil {
		return nil, nil, fmt.Errorf("the knowledge file %s is not the JSON check-known-issues writes: %w", path, err)
	}
	if ff.Version != Version {
		return nil, nil, errors.New("the knowledge file " + path + " has another version: not read")
	}
	s, warns := Decode(ff.Documents)
	s.Namespace, s.ConfigMap, s.Found = ff.Namespace, ff.ConfigMap, ff.Found
	return s, warns, nil
}
