package mesh

import (
	"os"
	"runtime/debug"
	"strconv"
)

// ParentGCPercent is the garbage collector's target (GOGC) for a process
// that takes children (a gateway or controller) unless GOGC is set.
//
// A parent's heap is mostly its links, and each link's long-lived objects
// are allocated among the handshake's short-lived ones; the spans those
// share stay in use after the garbage is collected. At Go's default of
// 100 the heap may double between collections, so that slack is about a
// fifth of the memory per idle child link; at 50 it is about half as much
// (docs/BENCHMARKS.md, Mesh: about 3 KiB less per link at 1,000 links).
// The cost is collections twice as often, small on a parent whose heap
// is mostly idle links and pooled buffers.
const ParentGCPercent = 50

// TuneGCForParent sets the process's GC target to ParentGCPercent unless
// the GOGC environment variable chose one, and returns the target in
// force, as GOGC spells it.
func TuneGCForParent() string {
	if v := os.Getenv("GOGC"); v != "" {
		return v
	}
	debug.SetGCPercent(ParentGCPercent)
	return strconv.Itoa(ParentGCPercent)
}
