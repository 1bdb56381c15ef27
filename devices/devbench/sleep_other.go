//go:build !linux

package devbench

import "time"

// sleep sleeps for about d (at Go's timer resolution).
func sleep(d time.Duration) { time.Sleep(d) }

// fineSleeps has nothing to tune outside Linux.
func fineSleeps() func() { return func() {} }
