package devmetrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/canopy-fleet/canopy/devices/mqttclient"
)

var (
	clientConnected  = gauge("canopy_mqtt_client_connected", "1 while the MQTT client's connection to its broker is up.")
	clientReceived   = counter("canopy_mqtt_client_received_total", "MQTT messages the client queued for its handlers.")
	clientDropped    = counter("canopy_mqtt_client_dropped_total", "MQTT messages the client dropped because its queue was full.")
	clientReconnects = counter("canopy_mqtt_client_reconnects_total", "Connections the MQTT client made after its first.")
)

// MQTTClient is a prometheus.Collector of an MQTT client's Stats.
type MQTTClient struct{ c *mqttclient.Client }

// NewMQTTClient returns a collector that reads c at each scrape.
func NewMQTTClient(c *mqttclient.Client) *MQTTClient { return &MQTTClient{c} }

// Describe implements prometheus.Collector.
func (c *MQTTClient) Describe(ch chan<- *prometheus.Desc) {
	describe(ch, clientConnected, clientReceived, clientDropped, clientReconnects)
}

// Collect implements prometheus.Collector.
func (c *MQTTClient) Collect(ch chan<- prometheus.Metric) {
	s := c.c.Stats()
	clientConnected.emit(ch, b2f(c.c.IsConnected()))
	clientReceived.emit(ch, float64(s.Received))
	clientDropped.emit(ch, float64(s.Dropped))
	clientReconnects.emit(ch, float64(s.Reconnects))
}
