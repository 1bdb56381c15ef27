package main

import (
	"net/http"

	"github.com/canopy-fleet/canopy/mesh"
	"github.com/canopy-fleet/canopy/mesh/meshmetrics"
)

// serverMetrics is the controller's /metrics handler: the process's
// collectors (newMetricsRegistry) and its mesh node's, link events
// included (ev must be the node's Config.OnEvent).
func serverMetrics(node *mesh.Node, ev *meshmetrics.Events) (http.Handler, error) {
	reg, err := newMetricsRegistry(meshmetrics.New(node), ev)
	if err != nil {
		return nil, err
	}
	return metricsHandler(reg), nil
}
