package knowledge

import (
	"runtime"
	"syscall"
	"time"
)

// cpuTime runs f on one locked OS thread and returns the CPU time that thread spent: unlike
// the wall clock, it does not grow when the machine is busy with other work.
func cpuTime(f func()) time.Duration {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var before, after syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_THREAD, &before) != nil {
		return wallTime(f)
	}
	f()
	if syscall.Getrusage(syscall.RUSAGE_THREAD, &after) != nil {
		return wallTime(f)
	}
	return time.Duration(syscall.TimevalToNsec(after.Utime) + syscall.TimevalToNsec(after.Stime) -
		syscall.TimevalToNsec(before.Utime) - syscall.TimevalToNsec(before.Stime))
}
