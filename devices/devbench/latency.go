package devbench

import (
	"slices"
	"time"
)

// latencies collects the sink's arrivals; it is used by the sink goroutine
// alone, and read after that goroutine ended.
type latencies struct {
	start    time.Time
	lat      []time.Duration // send → arrival, warm-up excluded
	at       []int64         // arrival (ns since start) of each lat entry
	last     int64           // latest arrival, ns since start
	received int
	want     int
	warm     uint64 // latencies of seq <= warm are not counted (warm-up)
	done     chan struct{}
}

func newLatencies(n int, warm uint64) *latencies {
	return &latencies{lat: make([]time.Duration, 0, n), at: make([]int64, 0, n), want: n, warm: warm, done: make(chan struct{})}
}

// arrived records seq arriving at now (ns since start); sentAt is its send
// time plus one, 0 if unknown.
func (l *latencies) arrived(seq uint64, now, sentAt int64) {
	if seq > l.warm && sentAt > 0 {
		l.lat = append(l.lat, time.Duration(now-(sentAt-1)))
		l.at = append(l.at, now)
	}
	l.received++
	l.last = now
	if l.received == l.want {
		close(l.done)
	}
}

// Result is one pipeline run.
type Result struct {
	Offered  float64       // msgs/s the sensors tried to send
	Sent     int           // messages published by the sensors
	Received int           // messages that reached the sink
	Rate     float64       // received / (last arrival - first send)
	P50, P99 time.Duration // sensor publish → sink arrival, warm-up excluded
	P999     time.Duration
	Max      time.Duration
	// Measured is how long the latencies were collected: from the first
	// counted arrival (after warm-up) to the last.
	Measured time.Duration
	Elapsed  time.Duration
	Dropped  int64 // counted drops along the way (queues)
	// CPU is the CPU time (user+system) the pipeline used: the process
	// running the broker and the task and, for the baseline, the
	// mosquitto process. With the load generator in its own process
	// (PipelineConfig.Spawn) the sensors and the sink are not in it;
	// without, they are.
	CPU time.Duration
	// LoadCPU is the load generator's own CPU time (sensors and sink)
	// when it ran in its own process; zero otherwise.
	LoadCPU time.Duration
	// RunqueueWait is how long the pipeline process's threads waited,
	// runnable, for a CPU the host gave to something else (Linux
	// schedstat); LoadRunqueueWait is the same for the load generator's
	// process. On a shared machine these, not the process, carry the tail.
	RunqueueWait, LoadRunqueueWait time.Duration
	// Runtime is what the pipeline process's Go runtime did meanwhile
	// (for the baseline: the paho subscriber's process).
	Runtime RuntimeStats
	// Windows are the latencies per second of the measured part, to see
	// whether the tail is spread or comes in bursts.
	Windows []Window
}

// Window is the latency of the arrivals in one second of a run.
type Window struct {
	At       time.Duration // end of the window, since the start
	N        int
	P99, Max time.Duration
}

// CPUPerMsg is CPU per delivered message, the figure least disturbed by
// other load on the machine.
func (r Result) CPUPerMsg() time.Duration {
	if r.Received == 0 {
		return 0
	}
	return r.CPU / time.Duration(r.Received)
}

func (l *latencies) result(offered float64, sent int) Result {
	res := Result{Offered: offered, Sent: sent, Received: l.received}
	if l.received > 0 {
		res.Elapsed = time.Duration(l.last)
		res.Rate = float64(l.received) / res.Elapsed.Seconds()
	}
	if len(l.lat) == 0 {
		return res
	}
	res.Measured = time.Duration(l.at[len(l.at)-1] - l.at[0])
	res.P50, res.P99, res.P999, res.Max = quantiles(slices.Clone(l.lat))
	from := 0
	for i := range l.at {
		if i == len(l.at)-1 || l.at[i+1]-l.at[from] >= int64(time.Second) {
			w := slices.Clone(l.lat[from : i+1])
			_, p99, _, mx := quantiles(w)
			res.Windows = append(res.Windows, Window{At: time.Duration(l.at[i]), N: len(w), P99: p99, Max: mx})
			from = i + 1
		}
	}
	return res
}

// quantiles sorts l and returns its p50, p99, p99.9 and max.
func quantiles(l []time.Duration) (p50, p99, p999, mx time.Duration) {
	slices.Sort(l)
	n := len(l)
	return l[n/2], l[n*99/100], l[n*999/1000], l[n-1]
}
