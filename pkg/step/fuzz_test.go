package step

import (
	"context"
	"strings"
	"testing"
	"time"
)

type fuzzConfig struct {
	Common
	CommitSHA string        `env:"COMMIT_SHA, required"`
	Count     int           `env:"COUNT, default=3"`
	Timeout   time.Duration `env:"TIMEOUT, default=1m"`
	Enabled   bool          `env:"ENABLED, default=false"`
}

// FuzzLoad feeds arbitrary flag values and arguments to the config loader: errors are fine,
// panics are not.
func FuzzLoad(f *testing.F) {
	f.Add("abc", "3", "1m", "true", "--log-format=json")
	f.Add("", "-1", "forever", "maybe", "stray")
	f.Add("$(rm -rf /)", "99999999999999999999", "1h\n", "1", "--commit-sha")
	f.Fuzz(func(t *testing.T, sha, count, timeout, enabled, extra string) {
		args := []string{"--commit-sha=" + sha, "--count=" + count, "--timeout=" + timeout, "--enabled=" + enabled}
		args = append(args, strings.Fields(extra)...)
		cfg := &fuzzConfig{}
		if err := Load(context.Background(), "fuzz", args, cfg); err == nil && cfg.CommitSHA != sha && !strings.Contains(extra, "commit-sha") {
			t.Fatalf("commit sha %q loaded as %q", sha, cfg.CommitSHA)
		}
	})
}
