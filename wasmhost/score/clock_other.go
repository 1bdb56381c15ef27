//go:build !linux

package score

import "time"

// threadCPUClock returns nil: only Linux's thread CPU clock is used.
func threadCPUClock() func() time.Duration { return nil }
