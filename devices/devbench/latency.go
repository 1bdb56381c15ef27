package devbench

import (
	"slices"
	"sync"
	"time"
)

// recorder matches sink arrivals to send times by seq.
type recorder struct {
	start time.Time
	sent  []int64 // seq → nanoseconds since start; 0 = not sent

	mu       sync.Mutex
	lat      []time.Duration
	last     time.Time
	received int
	done     chan struct{}
	want     int
	warm     uint64 // latencies of seq <= warm are not counted (warm-up)
}

func newRecorder(n int) *recorder {
	return &recorder{start: time.Now(), sent: make([]int64, n+2), lat: make([]time.Duration, 0, n), done: make(chan struct{}), want: n}
}

func (r *recorder) markSent(seq uint64) {
	if seq < uint64(len(r.sent)) {
		r.sent[seq] = int64(time.Since(r.start)) + 1
	}
}

func (r *recorder) arrived(seq uint64) {
	now := time.Since(r.start)
	r.mu.Lock()
	defer r.mu.Unlock()
	if seq > r.warm && seq < uint64(len(r.sent)) && r.sent[seq] > 0 {
		r.lat = append(r.lat, now-time.Duration(r.sent[seq]-1))
	}
	r.received++
	r.last = r.start.Add(now)
	if r.received == r.want {
		close(r.done)
	}
}

// Result is one pipeline run.
type Result struct {
	Offered  float64       // msgs/s the sensors tried to send
	Sent     int           // messages published by the sensors
	Received int           // messages that reached the sink
	Rate     float64       // received / (last arrival - first send)
	P50, P99 time.Duration // sensor publish → sink arrival
	Elapsed  time.Duration
	Dropped  int64 // counted drops along the way (queues)
	// CPU is the CPU time (user+system) the whole pipeline used: this
	// process (sensors, sink and, for Canopy, broker and task) plus the
	// mosquitto process for the baseline.
	CPU time.Duration
}

// CPUPerMsg is CPU per delivered message, the figure least disturbed by
// other load on the machine.
func (r Result) CPUPerMsg() time.Duration {
	if r.Received == 0 {
		return 0
	}
	return r.CPU / time.Duration(r.Received)
}

func (r *recorder) result(offered float64, sent int) Result {
	r.mu.Lock()
	defer r.mu.Unlock()
	res := Result{Offered: offered, Sent: sent, Received: r.received}
	if r.received > 0 {
		res.Elapsed = r.last.Sub(r.start)
		res.Rate = float64(r.received) / res.Elapsed.Seconds()
	}
	if len(r.lat) > 0 {
		l := slices.Clone(r.lat)
		slices.Sort(l)
		res.P50 = l[len(l)/2]
		res.P99 = l[len(l)*99/100]
	}
	return res
}
