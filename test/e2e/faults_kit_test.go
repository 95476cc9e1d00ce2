package e2e

import (
	"net/http"
	"strconv"

	"github.com/release-to-prod/release-to-prod/test/faults"
)

// faultCase is one fault in front of a step's source and what the step must do about it.
type faultCase struct {
	fault    faults.Fault
	wantCode int    // 0: the step rides the fault out
	outHas   string // for a failure: what its output must say
}

// standardFaultCases are the transient faults (the step must succeed) and the persistent ones
// (it must fail closed, naming the status or giving advice) for the requests match selects.
func standardFaultCases(match func(*http.Request) bool) []faultCase {
	var out []faultCase
	for _, f := range faults.Transient(match) {
		out = append(out, faultCase{fault: f})
	}
	for _, f := range faults.Persistent(match) {
		want := "likely cause"
		if f.Kind == faults.Status {
			want = strconv.Itoa(f.Code)
		}
		out = append(out, faultCase{fault: f, wantCode: 1, outHas: want})
	}
	return out
}
