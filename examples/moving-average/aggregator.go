package main

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
)

// series is the window of one sensor's quantity: a ring of the last
// len(ring) values.
type series struct {
	sensor, quantity string
	outTopic         string // aggregates/<sensor>/<quantity>
	ring             []float64
	next, n          int // next slot to write; values held (≤ len(ring))
	sum              float64
	ts               int64 // of the newest reading
	dirty            bool  // updated since the last flush
}

// push adds v to the window, evicting the oldest value once it is full.
// The sum is updated incrementally and recomputed when the ring wraps, so
// rounding errors do not build up.
func (s *series) push(v float64, ts int64) {
	if s.n == len(s.ring) {
		s.sum -= s.ring[s.next]
	} else {
		s.n++
	}
	s.ring[s.next] = v
	s.sum += v
	s.next++
	if s.next == len(s.ring) {
		s.next = 0
		s.sum = 0
		for _, x := range s.ring[:s.n] {
			s.sum += x
		}
	}
	s.ts = ts
	s.dirty = true
}

// aggregate is what is published for a series.
type aggregate struct {
	Sensor   string  `json:"sensor"`
	Quantity string  `json:"quantity"`
	Avg      float64 `json:"avg"`
	Min      float64 `json:"min"`
	Max      float64 `json:"max"`
	N        int     `json:"n"`
	Window   int     `json:"window"`
	TS       int64   `json:"ts,omitempty"`
}

// aggregate summarizes the window.
func (s *series) aggregate() aggregate {
	a := aggregate{Sensor: s.sensor, Quantity: s.quantity, N: s.n, Window: len(s.ring), TS: s.ts,
		Min: math.Inf(1), Max: math.Inf(-1)}
	for _, x := range s.ring[:s.n] {
		a.Min = math.Min(a.Min, x)
		a.Max = math.Max(a.Max, x)
	}
	a.Avg = s.sum / float64(s.n)
	return a
}

// JSON encodes the series' aggregate.
func (s *series) JSON() []byte {
	b, _ := json.Marshal(s.aggregate()) // cannot fail: finite floats only
	return b
}

// aggregator holds every series, keyed by the topic its readings arrive on.
type aggregator struct {
	window, maxSeries int
	series            map[string]*series
	dropped           int // readings dropped since the last flush: too many series
}

func newAggregator(window, maxSeries int) *aggregator {
	return &aggregator{window: window, maxSeries: maxSeries, series: make(map[string]*series)}
}

// add records a reading received on topic, which must be stable (not
// reused after add returns).
func (a *aggregator) add(topic string, r reading) error {
	s, ok := a.series[topic]
	if !ok {
		sensor, quantity, ok := seriesOf(topic)
		if !ok {
			return fmt.Errorf("topic %s: want sensors/<sensor>/<quantity>", topic)
		}
		if len(a.series) >= a.maxSeries {
			a.dropped++
			return nil
		}
		s = &series{sensor: sensor, quantity: quantity, ring: make([]float64, a.window),
			outTopic: "aggregates/" + sensor + "/" + quantity}
		a.series[topic] = s
	}
	s.push(r.Value, r.TS)
	return nil
}

// flushResult is what a flush callback did with a series.
type flushResult int

const (
	published flushResult = iota // done: the series is no longer due
	retry                        // failed: keep it due, go on with the next
	stop                         // keep this and the rest due, stop the flush
)

// flush calls publish for every series updated since the last flush, in
// topic order, until publish says stop.
func (a *aggregator) flush(publish func(*series) flushResult) {
	var due []string
	for topic, s := range a.series {
		if s.dirty {
			due = append(due, topic)
		}
	}
	sort.Strings(due)
	for _, topic := range due {
		s := a.series[topic]
		switch publish(s) {
		case published:
			s.dirty = false
		case stop:
			return
		}
	}
}

// due counts the series updated since they were last published.
func (a *aggregator) due() int {
	n := 0
	for _, s := range a.series {
		if s.dirty {
			n++
		}
	}
	return n
}
