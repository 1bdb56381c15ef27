package main

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/canopy-fleet/canopy/mesh"
)

// newMetrics makes the controller's Prometheus registry and the /metrics
// handler over it: the Go runtime and process collectors, and a gauge of
// the mesh's directly linked children.
//
// Seam: the collectors for the mesh's counters and the devices (being
// written in mesh/meshmetrics and devices/devmetrics) register here,
// on reg, once they land.
func newMetrics(node *mesh.Node) (*prometheus.Registry, http.Handler) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: "canopy", Subsystem: "mesh", Name: "children",
			Help: "Nodes linked directly to this controller.",
		}, func() float64 { return float64(len(node.Children())) }),
	)
	return reg, promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})
}
