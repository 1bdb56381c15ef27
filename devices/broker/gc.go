package broker

import (
	"os"
	"runtime/debug"
	"sync"
)

// DefaultGCPercent is the garbage collector target (as GOGC) a running
// broker gives its process when Config.GCPercent is zero.
//
// mochi allocates ~3 KB for each message it routes to a network subscriber
// (gathering subscribers into fresh maps, copying the packet) while the
// live heap of a node stays a few MB, so at Go's default of 100 the process
// collects ~40 times a second at 50,000 msgs/s. Each collection stops every
// thread twice, and on a busy 2-core host a stop waits for descheduled
// threads: the worst pause of a 7-second run reached 10 ms with the host
// moderately busy and 84 ms with it saturated (devbench, runtime/metrics
// /sched/pauses/total/gc:seconds), straight into the latency tail of the
// sensor → task → publish pipeline. At 400 the process collects ~9 times a
// second, GC CPU falls from 13-17% to 3-4% of a core, and the heap grows to
// ~5x the live data (a 25-37 MB goal instead of 10-15 MB in that pipeline).
const DefaultGCPercent = 400

// gcRaise holds the GC target for the running brokers of this process: the
// first to start raises it, the last to close puts back what it found.
var gcRaise struct {
	mu      sync.Mutex
	running int
	prev    int
	raised  bool
}

// raiseGC raises the process's GC target to at least pct for as long as the
// broker runs; the GOGC environment variable, when set, always wins, and a
// higher target (or GC off) is kept. It reports whether it changed the
// target (for the log).
func raiseGC(pct int) bool {
	gcRaise.mu.Lock()
	defer gcRaise.mu.Unlock()
	gcRaise.running++
	if gcRaise.running > 1 || pct <= 0 || os.Getenv("GOGC") != "" {
		return false
	}
	prev := debug.SetGCPercent(pct)
	if prev < 0 || prev >= pct {
		debug.SetGCPercent(prev)
		return false
	}
	gcRaise.prev, gcRaise.raised = prev, true
	return true
}

// releaseGC is raiseGC's counterpart at Close.
func releaseGC() {
	gcRaise.mu.Lock()
	defer gcRaise.mu.Unlock()
	gcRaise.running--
	if gcRaise.running == 0 && gcRaise.raised {
		debug.SetGCPercent(gcRaise.prev)
		gcRaise.raised = false
	}
}
