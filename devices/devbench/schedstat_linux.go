package devbench

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// runqueueWait is how long this process's threads have waited, runnable,
// for a CPU (the second field of /proc/self/task/*/schedstat, summed):
// time the host gave to other processes while this one had work. Threads
// that exited are not counted (Go keeps its threads).
func runqueueWait() time.Duration {
	tasks, err := filepath.Glob("/proc/self/task/*/schedstat")
	if err != nil {
		return 0
	}
	var sum int64
	for _, t := range tasks {
		b, err := os.ReadFile(t)
		if err != nil {
			continue
		}
		f := strings.Fields(string(b))
		if len(f) < 2 {
			continue
		}
		if n, err := strconv.ParseInt(f[1], 10, 64); err == nil {
			sum += n
		}
	}
	return time.Duration(sum)
}
