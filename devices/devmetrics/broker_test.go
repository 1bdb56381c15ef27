package devmetrics_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/canopy-fleet/canopy/devices/broker"
	"github.com/canopy-fleet/canopy/devices/devmetrics"
	"github.com/canopy-fleet/canopy/devices/mqttclient"
)

func startBroker(t *testing.T, cfg broker.Config) *broker.Broker {
	t.Helper()
	cfg.Addr = "127.0.0.1:0"
	b, err := broker.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

func dial(t *testing.T, cfg mqttclient.Config) (*mqttclient.Client, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := mqttclient.Dial(ctx, cfg)
	if err == nil {
		t.Cleanup(c.Close)
	}
	return c, err
}

func TestBrokerMetrics(t *testing.T) {
	b := startBroker(t, broker.Config{Users: []broker.User{{Username: "pump1", Password: "s3cret"}}})
	url := "tcp://" + b.Addr()
	if _, err := dial(t, mqttclient.Config{URL: url, Username: "pump1", Password: "wrong"}); err == nil {
		t.Fatal("wrong password connected")
	}
	pump, err := dial(t, mqttclient.Config{URL: url, Username: "pump1", Password: "s3cret"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := pump.Subscribe(ctx, "devices/pump2/#", 1, func(string, []byte) {}); !errors.Is(err, mqttclient.ErrRefused) {
		t.Fatalf("foreign subscription: %v, want refused", err)
	}
	got := make(chan struct{}, 8)
	if err := pump.Subscribe(ctx, "devices/pump1/#", 1, func(string, []byte) { got <- struct{}{} }); err != nil {
		t.Fatal(err)
	}
	// A QoS 0 publish outside its own topics is dropped by the ACL.
	if err := pump.Publish(ctx, "devices/pump2/temp", []byte("spoof"), 0); err != nil {
		t.Fatal(err)
	}
	if err := pump.Publish(ctx, "devices/pump1/temp", []byte("20"), 1); err != nil {
		t.Fatal(err)
	}
	select {
	case <-got:
	case <-time.After(10 * time.Second):
		t.Fatal("own message not delivered")
	}

	c := devmetrics.NewBroker(b)
	eventually(t, "one client connected", func() bool { return values(t, c)["canopy_broker_clients"] == 1 })
	want := `
# HELP canopy_broker_auth_failures_total MQTT connections refused for wrong credentials.
# TYPE canopy_broker_auth_failures_total counter
canopy_broker_auth_failures_total 1
# HELP canopy_broker_clients MQTT clients connected to the embedded broker now.
# TYPE canopy_broker_clients gauge
canopy_broker_clients 1
# HELP canopy_broker_flood_disconnects_total MQTT clients disconnected for publishing faster than the broker's limit.
# TYPE canopy_broker_flood_disconnects_total counter
canopy_broker_flood_disconnects_total 0
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want),
		"canopy_broker_auth_failures_total",
		"canopy_broker_clients", "canopy_broker_flood_disconnects_total"); err != nil {
		t.Fatal(err)
	}
	v := values(t, c)
	if v[`canopy_broker_acl_denials_total{action="subscribe"}`] != 1 || v[`canopy_broker_acl_denials_total{action="publish"}`] != 1 {
		t.Fatalf("ACL denials: subscribe %v (want 1), publish %v (want 1)",
			v[`canopy_broker_acl_denials_total{action="subscribe"}`], v[`canopy_broker_acl_denials_total{action="publish"}`])
	}
	// The broker counts a sent message after writing it, which may be
	// after the subscriber has it.
	eventually(t, "the pump's own message counted received and sent", func() bool {
		v := values(t, c)
		return v["canopy_broker_messages_received_total"] >= 1 && v["canopy_broker_messages_sent_total"] >= 1
	})
	if n := testutil.CollectAndCount(c); n != 8 {
		t.Fatalf("%d samples, want 8", n)
	}
	lint(t, c)
}

func TestBrokerFloodDisconnects(t *testing.T) {
	b := startBroker(t, broker.Config{MaxPublishRate: 5})
	flooder, err := dial(t, mqttclient.Config{URL: "tcp://" + b.Addr(), MaxReconnectInterval: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	c := devmetrics.NewBroker(b)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i := 0; values(t, c)["canopy_broker_flood_disconnects_total"] == 0; i++ {
		if ctx.Err() != nil {
			t.Fatal("never disconnected for flooding")
		}
		_ = flooder.Publish(ctx, "sensors/x/temp", []byte("1"), 0)
	}
}
