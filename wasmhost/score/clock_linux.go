//go:build linux

package score

import (
	"time"

	"golang.org/x/sys/unix"
)

// threadCPUClock returns a clock of the calling OS thread's CPU time, or
// nil where the system has none.
func threadCPUClock() func() time.Duration {
	var ts unix.Timespec
	if unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts) != nil {
		return nil
	}
	return func() time.Duration {
		var ts unix.Timespec
		if unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts) != nil {
			return 0
		}
		return time.Duration(ts.Nano())
	}
}
