package step

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestPairs(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     []Pair
	}{
		{name: "empty", in: "", want: nil},
		{name: "items trimmed, empty ones passed over", in: " a = x ,, b=y,", want: []Pair{
			{Item: "a = x", Name: "a", Value: "x", OK: true}, {Item: "b=y", Name: "b", Value: "y", OK: true}}},
		{name: "no =", in: "a", want: []Pair{{Item: "a", Name: "a"}}},
		{name: "no name", in: "=x", want: []Pair{{Item: "=x", Value: "x"}}},
		{name: "no value is still a pair", in: "a=", want: []Pair{{Item: "a=", Name: "a", OK: true}}},
		{name: "only the first = splits", in: "a=b=c", want: []Pair{{Item: "a=b=c", Name: "a", Value: "b=c", OK: true}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, Pairs(tc.in))
		})
	}
}
