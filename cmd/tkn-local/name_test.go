package main

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestRunName(t *testing.T) {
	now := time.Date(2026, 11, 28, 4, 5, 6, 0, time.UTC)
	a, b := runName("", "release-to-prod", now), runName("", "release-to-prod", now)
	assert.NotEqual(t, a, b, "two runs started in the same second get distinct names")
	assert.Regexp(t, regexp.MustCompile(`^release-to-prod-local-040506-[a-z0-9]{5}$`), a)
	assert.Regexp(t, regexp.MustCompile(`^my-run-[a-z0-9]{5}$`), runName("my-run-", "p", now), "a prefix as tkn's --prefix-name")
	long := runName(strings.Repeat("x", 100), "p", now)
	assert.LessOrEqual(t, len(long), 63)
}
