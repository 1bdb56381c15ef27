package devmetrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/canopy-fleet/canopy/devices/route"
)

var (
	routeDelivered = counter("canopy_route_delivered_total", "Messages the router handed to a task's handler.", "task")
	routeOverflow  = counter("canopy_route_overflow_total", "Messages the router dropped because the task's queue was full.", "task")
	routePanics    = counter("canopy_route_panics_total", "Handler calls that panicked.", "task")
	routeQueued    = gauge("canopy_route_queued_messages", "Messages waiting in the task's queue now.", "task")
)

// Router is a prometheus.Collector of a router's per-subscriber Stats; the
// task label is the subscriber's ID.
type Router struct{ r *route.Router }

// NewRouter returns a collector that reads r's AllStats at each scrape.
func NewRouter(r *route.Router) *Router { return &Router{r} }

// Describe implements prometheus.Collector.
func (c *Router) Describe(ch chan<- *prometheus.Desc) {
	describe(ch, routeDelivered, routeOverflow, routePanics, routeQueued)
}

// Collect implements prometheus.Collector.
func (c *Router) Collect(ch chan<- prometheus.Metric) {
	for id, s := range c.r.AllStats() {
		routeDelivered.emit(ch, float64(s.Delivered), id)
		routeOverflow.emit(ch, float64(s.Overflow), id)
		routePanics.emit(ch, float64(s.Panics), id)
		routeQueued.emit(ch, float64(s.Queued), id)
	}
}
