package meshmetrics

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/canopy-fleet/canopy/mesh"
)

var eventsDesc = prometheus.NewDesc("canopy_mesh_link_events_total",
	"Link events of the node by kind: parent-up, parent-lost (a failover follows), child-up, child-ready, child-lost.",
	[]string{"event"}, nil)

// kinds are reported at zero until they happen.
var kinds = []mesh.EventKind{mesh.EventParentUp, mesh.EventParentLost, mesh.EventChildUp,
	mesh.EventChildReady, mesh.EventChildLost}

// Events counts a node's link events by kind and is a prometheus.Collector
// of the counts. Give Record to mesh.Config.OnEvent (calling any previous
// handler from a wrapper if there is one).
type Events struct {
	mu sync.Mutex
	n  map[mesh.EventKind]uint64
}

// NewEvents returns zeroed counts.
func NewEvents() *Events { return &Events{n: map[mesh.EventKind]uint64{}} }

// Record counts ev; it never blocks for long, as OnEvent requires, and may
// be called from any goroutine.
func (e *Events) Record(ev mesh.Event) {
	e.mu.Lock()
	e.n[ev.Kind]++
	e.mu.Unlock()
}

// Count is how many events of kind were recorded.
func (e *Events) Count(kind mesh.EventKind) uint64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.n[kind]
}

// Describe implements prometheus.Collector.
func (e *Events) Describe(ch chan<- *prometheus.Desc) { ch <- eventsDesc }

// Collect implements prometheus.Collector.
func (e *Events) Collect(ch chan<- prometheus.Metric) {
	e.mu.Lock()
	counts := make(map[mesh.EventKind]uint64, len(e.n)+len(kinds))
	for k, v := range e.n {
		counts[k] = v
	}
	e.mu.Unlock()
	for _, k := range kinds {
		if _, ok := counts[k]; !ok {
			counts[k] = 0
		}
	}
	for k, v := range counts {
		ch <- prometheus.MustNewConstMetric(eventsDesc, prometheus.CounterValue, float64(v), string(k))
	}
}
