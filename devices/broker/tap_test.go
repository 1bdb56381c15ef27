package broker_test

import (
	"context"
	"testing"

	"github.com/canopy-fleet/canopy/devices/broker"
	"github.com/canopy-fleet/canopy/devices/mqttclient"
)

// A tap sees every accepted message — from clients and from Publish — and
// nothing the ACL refused.
func TestTap(t *testing.T) {
	b := start(t, broker.Config{Users: []broker.User{{Username: "d1", Password: "pw"}}})
	got := make(chan string, 8)
	b.Tap(func(topic string, p []byte) { got <- topic + "=" + string(p) })
	c, err := dial(t, mqttclient.Config{URL: "tcp://" + b.Addr(), Username: "d1", Password: "pw"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := c.Publish(ctx, "devices/d2/x", []byte("denied"), 0); err != nil {
		t.Fatal(err)
	}
	if err := c.Publish(ctx, "devices/d1/x", []byte("1"), 1); err != nil {
		t.Fatal(err)
	}
	if s := recv(t, got); s != "devices/d1/x=1" {
		t.Fatalf("tap got %q first", s)
	}
	if err := b.Publish("cmd/d1", []byte("2"), 0); err != nil {
		t.Fatal(err)
	}
	if s := recv(t, got); s != "cmd/d1=2" {
		t.Fatalf("tap got %q", s)
	}
}
