package score

import "time"

// DefaultClock is the clock a measurement uses when Config.Clock is nil:
// the CPU time of the calling OS thread where the system has one (Linux),
// so that time the thread spends preempted by other processes does not
// count against the device; monotonic wall time elsewhere. Measure locks
// its goroutine to its thread for the measurement, so every call runs on
// the thread the clock reads.
func DefaultClock() func() time.Duration {
	if c := threadCPUClock(); c != nil {
		return c
	}
	return WallClock()
}

// WallClock returns a monotonic wall clock.
func WallClock() func() time.Duration {
	t0 := time.Now()
	return func() time.Duration { return time.Since(t0) }
}
