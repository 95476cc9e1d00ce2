//go:build !linux

package knowledge

import "time"

// cpuTime is the wall time of f where a thread's CPU time is not at hand.
func cpuTime(f func()) time.Duration { return wallTime(f) }
