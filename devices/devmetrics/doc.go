// Package devmetrics exposes the devices components' counters as
// Prometheus metrics.
//
// Each collector reads its component's Stats when it is scraped, so the
// message path pays nothing for metrics: there is no counter to update
// besides the atomics the components keep anyway. Nothing is registered
// globally; a caller registers the collectors it wants on its own
// prometheus.Registry:
//
//	reg := prometheus.NewRegistry()
//	reg.MustRegister(devmetrics.NewBroker(b), devmetrics.NewRouter(r), devmetrics.NewOutbox(o))
//
// Metric names follow canopy_<part>_<what>_<unit>: canopy_broker_*,
// canopy_route_*, canopy_outbox_*, canopy_mqtt_client_* and canopy_node_*
// (the probe's live figures).
package devmetrics
