//go:build !unix

package meshbench

import "time"

// processCPU is 0 where getrusage is missing: the idle CPU figure reads 0.
func processCPU() time.Duration { return 0 }
