package route_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/canopy-fleet/canopy/devices/broker"
	"github.com/canopy-fleet/canopy/devices/mqttclient"
	"github.com/canopy-fleet/canopy/devices/outbox"
	"github.com/canopy-fleet/canopy/devices/route"
	"github.com/canopy-fleet/canopy/devices/sensorsim"
	"github.com/canopy-fleet/canopy/kernel"
)

// TestNodeWithRealParts wires the devices layer as a node does: a sensor
// with its own credentials publishes through the embedded broker (ACLs on),
// the node's client feeds the router, three replicas of a task share the
// temperature stream round-robin and append to the durable outbox, and a
// logging task sees everything. Redelivering the same readings changes
// nothing in the outbox (ids dedupe).
func TestNodeWithRealParts(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	b, err := broker.New(broker.Config{Addr: "127.0.0.1:0", Users: []broker.User{
		{Username: "sensor1", Password: "pw1"},
		{Username: "node", Password: "pw2", Subscribe: []string{"devices/#"}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	url := "tcp://" + b.Addr()

	ob, err := outbox.Open(outbox.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer ob.Close()
	r := newRouter(t, 4096)
	temp := kernel.Subscription{Topic: "devices/+/+/temperature", Shared: kernel.ShareRoundRobin}
	for i := range 3 {
		id := fmt.Sprint("alert-", i)
		err := r.Add(route.Subscriber{ID: id, Group: "alert", Subs: []kernel.Subscription{temp}, Handler: func(topic string, p []byte) {
			rd, err := sensorsim.ParseReading(p)
			if err != nil {
				t.Error(err)
				return
			}
			if err := ob.Append(ctx, outbox.Message{ID: fmt.Sprint(rd.Sensor, "-", rd.Seq), Dest: "cloud", Payload: p}); err != nil {
				t.Error(err)
			}
		}})
		if err != nil {
			t.Fatal(err)
		}
	}
	var logged atomic.Int64
	if err := r.Add(route.Subscriber{ID: "logger", Subs: []kernel.Subscription{{Topic: "devices/#"}}, Handler: func(string, []byte) { logged.Add(1) }}); err != nil {
		t.Fatal(err)
	}

	node, err := mqttclient.Dial(ctx, mqttclient.Config{URL: url, Username: "node", Password: "pw2"})
	if err != nil {
		t.Fatal(err)
	}
	defer node.Close()
	if err := node.Subscribe(ctx, "devices/#", 1, func(topic string, p []byte) { r.Deliver(topic, p) }); err != nil {
		t.Fatal(err)
	}
	sensor, err := mqttclient.Dial(ctx, mqttclient.Config{URL: url, Username: "sensor1", Password: "pw1"})
	if err != nil {
		t.Fatal(err)
	}
	defer sensor.Close()
	const n = 400 // 4 sensors: s0 measures temperature, 100 readings
	run := func() {
		st, err := sensorsim.Run(ctx, sensorsim.Config{Sensors: 4, Rate: 20_000, Count: n, Prefix: "devices/sensor1", Seed: 9},
			func(ctx context.Context, topic string, p []byte) error { return sensor.Publish(ctx, topic, p, 1) })
		if err != nil || st.Sent != n {
			t.Fatalf("sensor sent %d: %v", st.Sent, err)
		}
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for !cond() {
			if ctx.Err() != nil {
				t.Fatalf("%s: %v", what, ctx.Err())
			}
			time.Sleep(2 * time.Millisecond)
		}
	}
	run()
	waitFor("logger sees every reading", func() bool { return logged.Load() == n })
	waitFor("outbox holds every temperature", func() bool { return ob.Len() == n/4 })
	for id, st := range r.AllStats() {
		if id != "logger" && (st.Delivered < 30 || st.Delivered > 37) {
			t.Errorf("%s handled %d of 100 temperatures; round-robin should give each about a third", id, st.Delivered)
		}
	}
	// The same readings again (same seed): the outbox dedupes by id.
	run()
	waitFor("logger sees the second round", func() bool { return logged.Load() == 2*n })
	var handled int64
	waitFor("replicas handle the second round", func() bool {
		handled = 0
		for id, st := range r.AllStats() {
			if id != "logger" {
				handled += st.Delivered
			}
		}
		return handled == n/2
	})
	if ob.Len() != n/4 || ob.Stats().Duplicates != n/4 {
		t.Fatalf("outbox %+v after redelivery, want %d pending and %d duplicates", ob.Stats(), n/4, n/4)
	}
	if st := b.Stats(); st.DeniedPublishes != 0 || st.DeniedSubscribes != 0 {
		t.Fatalf("broker denied legitimate traffic: %+v", st)
	}
}
