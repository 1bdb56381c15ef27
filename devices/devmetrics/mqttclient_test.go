package devmetrics_test

import (
	"context"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/canopy-fleet/canopy/devices/broker"
	"github.com/canopy-fleet/canopy/devices/devmetrics"
	"github.com/canopy-fleet/canopy/devices/mqttclient"
)

func TestMQTTClientMetrics(t *testing.T) {
	b := startBroker(t, broker.Config{})
	cl, err := dial(t, mqttclient.Config{URL: "tcp://" + b.Addr()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	got := make(chan struct{}, 8)
	if err := cl.Subscribe(ctx, "sensors/#", 1, func(string, []byte) { got <- struct{}{} }); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := b.Publish("sensors/a/temp", []byte("21"), 1); err != nil {
			t.Fatal(err)
		}
	}
	for range 3 {
		<-got
	}
	c := devmetrics.NewMQTTClient(cl)
	want := `
# HELP canopy_mqtt_client_connected 1 while the MQTT client's connection to its broker is up.
# TYPE canopy_mqtt_client_connected gauge
canopy_mqtt_client_connected 1
# HELP canopy_mqtt_client_dropped_total MQTT messages the client dropped because its queue was full.
# TYPE canopy_mqtt_client_dropped_total counter
canopy_mqtt_client_dropped_total 0
# HELP canopy_mqtt_client_received_total MQTT messages the client queued for its handlers.
# TYPE canopy_mqtt_client_received_total counter
canopy_mqtt_client_received_total 3
# HELP canopy_mqtt_client_reconnects_total Connections the MQTT client made after its first.
# TYPE canopy_mqtt_client_reconnects_total counter
canopy_mqtt_client_reconnects_total 0
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want)); err != nil {
		t.Fatal(err)
	}
	lint(t, c)
	b.Close()
	eventually(t, "disconnected", func() bool { return values(t, c)["canopy_mqtt_client_connected"] == 0 })
}
