package main

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRunName(t *testing.T) {
	now := time.Date(2026, 11, 28, 4, 5, 6, 0, time.UTC)
	name := func(prefix, pipeline string) string {
		n, err := runName(prefix, pipeline, now)
		require.NoError(t, err)
		return n
	}
	a, b := name("", "release-to-prod"), name("", "release-to-prod")
	assert.NotEqual(t, a, b, "two runs started in the same second get distinct names")
	assert.Regexp(t, regexp.MustCompile(`^release-to-prod-local-040506-[a-z0-9]{5}$`), a)
	assert.Regexp(t, regexp.MustCompile(`^my-run-[a-z0-9]{5}$`), name("my-run-", "p"), "a prefix as tkn's --prefix-name")
	long := name(strings.Repeat("x", 100), "p")
	assert.LessOrEqual(t, len(long), 63)
}

// TestRunNameRefusesInvalidPrefixes: the prefix must make a Kubernetes name.
func TestRunNameRefusesInvalidPrefixes(t *testing.T) {
	for _, bad := range []string{"My-Run", "-run", "run_1", "run.1", "../x", "run\x1b[31m", "run\u202e", "a b", "run/"} {
		_, err := runName(bad, "p", time.Now())
		assert.ErrorContains(t, err, "is not a valid name prefix", "%q", bad)
	}
}
