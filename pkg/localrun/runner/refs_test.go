package runner

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestMissingStepResult(t *testing.T) {
	have := map[string]string{"steps.a.results.X": "1"}
	for s, want := range map[string]string{
		"$(steps.a.results.X)":                          "",
		"$(steps.a.results.Y)":                          "steps.a.results.Y",
		"x=$(steps.a.results.X),y=$(steps.b.results.Z)": "steps.b.results.Z",
		"a gate said: bad value \"$(steps.\"":           "", // text, not a reference
		"plain":                                         "",
	} {
		assert.Equal(t, want, missingStepResult(s, have), s)
	}
}
