package supervise

import "time"

// Clock is the supervisor's time source: Now for records, After for backoff
// waits and ticks. The supervisor goroutine calls both.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

// realClock is the wall clock.
type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }
