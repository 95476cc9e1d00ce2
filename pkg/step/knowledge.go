package step

import (
	"errors"
	"fmt"
	"io/fs"

	"github.com/release-to-prod/release-to-prod/pkg/step/knowledge"
)

// The team knowledge hook. Package knowledge is standard library only (no client-go, no YAML),
// so every step links it at no cost; the step that reads the ConfigMap (check-known-issues)
// writes KNOWLEDGE_FILE for the others of its pod, and hands the store over directly with
// SetKnowledge.

// teamAdvice is what the team's store says of a failure, in the JSON log.
type teamAdvice struct {
	Cause   string `json:"cause"`
	Fix     string `json:"fix"`
	Replace bool   `json:"replace,omitempty"`
	Source  string `json:"source"`
}

// SetKnowledge gives the step the team knowledge store it read itself, so that its own failure
// is matched against it without the file.
func (s *Step) SetKnowledge(k *knowledge.Store) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.knowledge = k
}

// loadKnowledge returns the store, reading KNOWLEDGE_FILE the first time. A file that cannot be
// read is a warning: the failure is still explained by the catalog.
func (s *Step) loadKnowledge() *knowledge.Store {
	s.mu.Lock()
	k, path := s.knowledge, s.knowledgeFile
	s.mu.Unlock()
	if k != nil || path == "" {
		return k
	}
	k, warns, err := knowledge.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		s.Warn("no team knowledge: %s does not exist (check-known-issues did not run before this step)", path)
		return nil
	case err != nil:
		s.Warn("no team knowledge: %v", err)
		return nil
	}
	for _, w := range warns {
		s.Warn("team knowledge: %s", w)
	}
	s.SetKnowledge(k)
	return k
}

// TeachCommand is the text that tells how to teach a failure nobody explained: the tkn-local
// command, and the same with kubectl for people without it.
func TeachCommand(e knowledge.Explanation, k *knowledge.Store) string {
	ns, cm := "<namespace>", knowledge.DefaultConfigMap
	if k != nil && k.Namespace != "" {
		ns = k.Namespace
	}
	if k != nil && k.ConfigMap != "" {
		cm = k.ConfigMap
	}
	cmFlag := ""
	if cm != knowledge.DefaultConfigMap {
		cmFlag = " --configmap " + cm
	}
	return fmt.Sprintf(`once you know its cause, teach it, and the next run that meets it explains it:
  tkn-local failures teach %[1]s -n %[2]s%[5]s --cause "<the cause>" --fix "<the fix>"
or with kubectl: kubectl edit configmap %[3]s -n %[2]s (missing? kubectl create configmap %[3]s -n %[2]s first),
and add to the key %[4]s (a YAML document: "version: 1", then "fixes:") the entry:
  - match: {step: %[6]s, fingerprint: %[1]s}
    cause: <the cause>
    fix: <the fix>
`, e.Fingerprint, ns, cm, knowledge.LearnedFixesKey, cmFlag, e.Failure.Step)
}
