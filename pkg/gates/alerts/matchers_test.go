package alerts

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/release-to-prod/release-to-prod/pkg/step/failure"
)

type m3 struct{ name, op, value string }

func triples(ms Matchers) []m3 {
	out := make([]m3, len(ms))
	for i, m := range ms {
		out[i] = m3{m.Name, string(m.Op), m.Value}
	}
	return out
}

func TestParseMatchers(t *testing.T) {
	tests := []struct {
		in      string
		want    []m3
		wantErr string
	}{
		{in: `environment="production"`, want: []m3{{"environment", "=", "production"}}},
		{in: `environment="production",team="aa"`, want: []m3{{"environment", "=", "production"}, {"team", "=", "aa"}}},
		{in: ` environment = "production" , team != "aa" `, want: []m3{{"environment", "=", "production"}, {"team", "!=", "aa"}}},
		{in: `{environment="production", severity=~"critical|warning"}`, want: []m3{{"environment", "=", "production"}, {"severity", "=~", "critical|warning"}}},
		{in: `summary="a, b, c",team="x"`, want: []m3{{"summary", "=", "a, b, c"}, {"team", "=", "x"}}},
		{in: `msg="say \"hi\"\\n",x="line\nbreak"`, want: []m3{{"msg", "=", `say "hi"\n`}, {"x", "=", "line\nbreak"}}},
		{in: `environment=production`, want: []m3{{"environment", "=", "production"}}},
		{in: `environment=production, team=a b`, want: []m3{{"environment", "=", "production"}, {"team", "=", "a b"}}},
		{in: `env!~"dev|stage",`, want: []m3{{"env", "!~", "dev|stage"}}},
		{in: `team=""`, want: []m3{{"team", "=", ""}}},
		{in: `a="1",a!="2"`, want: []m3{{"a", "=", "1"}, {"a", "!=", "2"}}},
		{in: ``, wantErr: "no matcher given"},
		{in: `{}`, wantErr: "no matcher given"},
		{in: `environment`, wantErr: "expected one of = != =~ !~"},
		{in: `environment=="x"`, wantErr: `unexpected '"' in an unquoted value`},
		{in: `environment="production`, wantErr: "unterminated quoted value"},
		{in: `a="x",,b="y"`, wantErr: "matcher 2 is empty"},
		{in: `a="x" b="y"`, wantErr: "separated by commas"},
		{in: `1a="x"`, wantErr: "label name \"1a\" is not valid"},
		{in: `a-b="x"`, wantErr: "expected one of"},
		{in: `a=`, wantErr: "value missing"},
		{in: `a=~"("`, wantErr: "regex of a"},
		{in: `a="\t"`, wantErr: `unknown escape \t`},
		{in: `{a="x"`, wantErr: "missing closing }"},
		{in: `a="x"}`, wantErr: "unexpected \"}\""},
		{in: `="x"`, wantErr: "expected a label name"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			ms, err := ParseMatchers(tt.in)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				var fe *failure.Error
				require.True(t, errors.As(err, &fe))
				assert.Equal(t, failure.InvalidInput, fe.ID, "bad matchers exit 2")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, triples(ms))
			// What is sent to Alertmanager parses back to the same matchers.
			again, err := ParseMatchers(ms.String())
			require.NoError(t, err, ms.String())
			assert.Equal(t, tt.want, triples(again))
		})
	}
}

func TestFilters(t *testing.T) {
	ms, err := ParseMatchers(`environment=production,summary="a, \"b\"",re=~"x|y",n!="",path="C:\\dir"`)
	require.NoError(t, err)
	assert.Equal(t, []string{
		`environment="production"`,
		`summary="a, \"b\""`,
		`re=~"x|y"`,
		`n!=""`,
		`path="C:\\dir"`,
	}, ms.Filters())
}

func TestMatches(t *testing.T) {
	labels := map[string]string{"environment": "production", "team": "aa", "severity": "critical"}
	tests := []struct {
		matchers string
		want     bool
	}{
		{`environment="production"`, true},
		{`environment="staging"`, false},
		{`environment="production",team="aa"`, true},
		{`environment="production",team="bb"`, false},
		{`team!="bb"`, true},
		{`severity=~"critical|warning"`, true},
		{`severity=~"crit"`, false}, // anchored, as in Prometheus
		{`severity!~"info|warning"`, true},
		{`missing=""`, true}, // a missing label is the empty string
		{`missing!=""`, false},
		{`missing=~".*"`, true},
	}
	for _, tt := range tests {
		t.Run(tt.matchers, func(t *testing.T) {
			ms, err := ParseMatchers(tt.matchers)
			require.NoError(t, err)
			assert.Equal(t, tt.want, ms.Matches(labels))
		})
	}
}

func TestSeverityMatcher(t *testing.T) {
	tests := []struct {
		in     string
		ok     bool
		filter string
	}{
		{in: "", ok: false},
		{in: " , ", ok: false},
		{in: "critical", ok: true, filter: `severity="critical"`},
		{in: " critical ", ok: true, filter: `severity="critical"`},
		{in: "critical,warning", ok: true, filter: `severity=~"critical|warning"`},
		{in: "a.b,c", ok: true, filter: `severity=~"a\\.b|c"`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			m, ok, err := SeverityMatcher(tt.in)
			require.NoError(t, err)
			assert.Equal(t, tt.ok, ok)
			if ok {
				assert.Equal(t, tt.filter, m.String())
			}
		})
	}
}

func FuzzParseMatchers(f *testing.F) {
	for _, s := range []string{
		`environment="production"`,
		`{environment="production", team=~"a|b"}`,
		`summary="a, \"b\"\n",x!~"y",`,
		`a=b`, `a="`, `a=~"("`, `,`, `{}`, "a=\"\xff\"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ms, err := ParseMatchers(s)
		if err != nil {
			return
		}
		require.NotEmpty(t, ms)
		again, err := ParseMatchers(ms.String())
		require.NoError(t, err, "rendered %q from %q", ms.String(), s)
		assert.Equal(t, triples(ms), triples(again))
	})
}
