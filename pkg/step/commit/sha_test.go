package commit

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseSHA(t *testing.T) {
	const full = "0123456789abcdef0123456789abcdef01234567"
	tests := []struct {
		name   string
		in     string
		want   string
		errHas []string
		errNot []string
	}{
		{name: "full", in: full, want: full},
		{name: "upper case and spaces", in: "  " + strings.ToUpper(full) + "\n", want: full},
		{name: "empty", in: "   ", errHas: []string{"empty", "40-character"}},
		{name: "short 7", in: "abc1234", errHas: []string{"short SHAs never exist as image tags", "pass the full 40-character SHA", `"abc1234"`}},
		{name: "short 12", in: "abc1234abc12", errHas: []string{"short SHAs never exist"}},
		{name: "39 hex", in: full[:39], errHas: []string{"39 hex characters", "want exactly 40"}, errNot: []string{"short SHA"}},
		{name: "41 hex", in: full + "0", errHas: []string{"41 hex characters"}},
		{name: "not hex", in: "release-1.2.3", errHas: []string{`"release-1.2.3"`, "not a hexadecimal"}},
		{name: "shell metacharacters", in: "$(rm -rf /)", errHas: []string{`"$(rm -rf /)"`}},
		{name: "newline inside", in: full[:20] + "\n" + full[20:], errHas: []string{`\n`}},
		{name: "very long truncated", in: strings.Repeat("z", 5000), errHas: []string{"(5000 characters)"}, errNot: []string{strings.Repeat("z", 100)}},
		{name: "unicode look-alike", in: "０123456789abcdef0123456789abcdef01234567", errHas: []string{"not a hexadecimal"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseSHA(tt.in)
			if tt.errHas == nil {
				require.NoError(t, err)
				assert.Equal(t, tt.want, got)
				return
			}
			require.Error(t, err)
			assert.True(t, errors.Is(err, ErrInvalidSHA))
			assert.Empty(t, got)
			for _, s := range tt.errHas {
				assert.Contains(t, err.Error(), s)
			}
			for _, s := range tt.errNot {
				assert.NotContains(t, err.Error(), s)
			}
		})
	}
}

func FuzzParseSHA(f *testing.F) {
	for _, s := range []string{"", "abc1234", "0123456789abcdef0123456789abcdef01234567", "$(x)", "\x00\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseSHA(s)
		if err != nil {
			if got != "" || len(err.Error()) > 1024 {
				t.Fatalf("bad error result %q %q", got, err)
			}
			return
		}
		if len(got) != 40 || !isHex(got) {
			t.Fatalf("accepted %q", got)
		}
	})
}
