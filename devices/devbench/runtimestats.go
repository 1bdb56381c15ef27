package devbench

import (
	"math"
	"runtime/metrics"
	"time"
)

// RuntimeStats is what the Go runtime of the pipeline's process did during
// a run: how often it collected, what that cost, and how long runnable
// goroutines waited for a thread — the parts of a latency tail that are
// this process's own (waiting for the OS to give the process a core is
// not visible here).
type RuntimeStats struct {
	GCCycles    uint64
	GCCPU       time.Duration // GC work, background and assists
	GCAssistCPU time.Duration // of which done by allocating goroutines
	GCPauseP99  time.Duration // stop-the-world pauses
	GCPauseMax  time.Duration
	SchedP99    time.Duration // goroutine runnable → running
	SchedMax    time.Duration
	AllocBytes  uint64 // heap bytes allocated
}

var runtimeMetrics = []string{
	"/gc/cycles/total:gc-cycles",
	"/cpu/classes/gc/total:cpu-seconds",
	"/cpu/classes/gc/mark/assist:cpu-seconds",
	"/sched/pauses/total/gc:seconds",
	"/sched/latencies:seconds",
	"/gc/heap/allocs:bytes",
}

// runtimeSnapshot is a reading of runtimeMetrics.
type runtimeSnapshot []metrics.Sample

func readRuntime() runtimeSnapshot {
	s := make([]metrics.Sample, len(runtimeMetrics))
	for i, n := range runtimeMetrics {
		s[i].Name = n
	}
	metrics.Read(s)
	return s
}

// since is what happened between b (earlier) and a.
func (a runtimeSnapshot) since(b runtimeSnapshot) RuntimeStats {
	var st RuntimeStats
	u := func(i int) uint64 {
		if a[i].Value.Kind() != metrics.KindUint64 {
			return 0
		}
		return a[i].Value.Uint64() - b[i].Value.Uint64()
	}
	f := func(i int) time.Duration {
		if a[i].Value.Kind() != metrics.KindFloat64 {
			return 0
		}
		return time.Duration((a[i].Value.Float64() - b[i].Value.Float64()) * 1e9)
	}
	st.GCCycles = u(0)
	st.GCCPU, st.GCAssistCPU = f(1), f(2)
	st.GCPauseP99, st.GCPauseMax = histDelta(a[3], b[3], 0.99)
	st.SchedP99, st.SchedMax = histDelta(a[4], b[4], 0.99)
	st.AllocBytes = u(5)
	return st
}

// histDelta is quantile q and the largest non-empty bucket of the samples
// added between b and a (upper bucket bounds).
func histDelta(a, b metrics.Sample, q float64) (time.Duration, time.Duration) {
	if a.Value.Kind() != metrics.KindFloat64Histogram || b.Value.Kind() != metrics.KindFloat64Histogram {
		return 0, 0
	}
	ha, hb := a.Value.Float64Histogram(), b.Value.Float64Histogram()
	if len(ha.Counts) != len(hb.Counts) {
		return 0, 0
	}
	var total uint64
	d := make([]uint64, len(ha.Counts))
	for i := range d {
		d[i] = ha.Counts[i] - hb.Counts[i]
		total += d[i]
	}
	if total == 0 {
		return 0, 0
	}
	bound := func(i int) time.Duration {
		x := ha.Buckets[i+1]
		if math.IsInf(x, 1) {
			x = ha.Buckets[i]
		}
		return time.Duration(x * 1e9)
	}
	var qv, mx time.Duration
	var seen uint64
	want := uint64(math.Ceil(q * float64(total)))
	for i, c := range d {
		if c == 0 {
			continue
		}
		seen += c
		if qv == 0 && seen >= want {
			qv = bound(i)
		}
		mx = bound(i)
	}
	return qv, mx
}
