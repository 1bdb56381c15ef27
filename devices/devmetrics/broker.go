package devmetrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/canopy-fleet/canopy/devices/broker"
)

var (
	brokerClients   = gauge("canopy_broker_clients", "MQTT clients connected to the embedded broker now.")
	brokerReceived  = counter("canopy_broker_messages_received_total", "MQTT messages the embedded broker received.")
	brokerSent      = counter("canopy_broker_messages_sent_total", "MQTT messages the embedded broker sent to subscribers.")
	brokerDropped   = counter("canopy_broker_messages_dropped_total", "MQTT messages the embedded broker dropped for slow subscribers.")
	brokerAuthFails = counter("canopy_broker_auth_failures_total", "MQTT connections refused for wrong credentials.")
	brokerACLDenied = counter("canopy_broker_acl_denials_total", "MQTT publishes and subscriptions refused by a topic ACL, by action.", "action")
	brokerFloods    = counter("canopy_broker_flood_disconnects_total", "MQTT clients disconnected for publishing faster than the broker's limit.")
)

// Broker is a prometheus.Collector of an embedded broker's Stats.
type Broker struct{ b *broker.Broker }

// NewBroker returns a collector that reads b's Stats at each scrape.
func NewBroker(b *broker.Broker) *Broker { return &Broker{b} }

// Describe implements prometheus.Collector.
func (c *Broker) Describe(ch chan<- *prometheus.Desc) {
	describe(ch, brokerClients, brokerReceived, brokerSent, brokerDropped, brokerAuthFails, brokerACLDenied, brokerFloods)
}

// Collect implements prometheus.Collector.
func (c *Broker) Collect(ch chan<- prometheus.Metric) {
	s := c.b.Stats()
	brokerClients.emit(ch, float64(s.Clients))
	brokerReceived.emit(ch, float64(s.MessagesReceived))
	brokerSent.emit(ch, float64(s.MessagesSent))
	brokerDropped.emit(ch, float64(s.MessagesDropped))
	brokerAuthFails.emit(ch, float64(s.DeniedConnects))
	brokerACLDenied.emit(ch, float64(s.DeniedPublishes), "publish")
	brokerACLDenied.emit(ch, float64(s.DeniedSubscribes), "subscribe")
	brokerFloods.emit(ch, float64(s.FloodDisconnects))
}
