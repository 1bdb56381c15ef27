package broker_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/canopy-fleet/canopy/devices/broker"
	"github.com/canopy-fleet/canopy/devices/mqttclient"
)

// A client publishing faster than MaxPublishRate is disconnected; others
// are unaffected. The clock is frozen, so each client's bucket holds
// exactly one second's worth (200) and never refills.
func TestFloodDisconnects(t *testing.T) {
	frozen := time.Unix(1_700_000_000, 0)
	b := start(t, broker.Config{MaxPublishRate: 200, Now: func() time.Time { return frozen }})
	url := "tcp://" + b.Addr()
	ctx := context.Background()
	sub, err := dial(t, mqttclient.Config{URL: url, ClientID: "sub"})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	counts := map[string]int{}
	marker := make(chan struct{})
	if err := sub.Subscribe(ctx, "t/#", 0, func(topic string, _ []byte) {
		mu.Lock()
		counts[topic]++
		mu.Unlock()
		if topic == "t/good" {
			close(marker)
		}
	}); err != nil {
		t.Fatal(err)
	}
	flooder, err := dial(t, mqttclient.Config{URL: url, ClientID: "flooder", MaxReconnectInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 1000 {
		pctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		err := flooder.Publish(pctx, "t/flood", []byte(fmt.Sprint(i)), 0)
		cancel()
		if err != nil {
			break
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for b.Stats().FloodDisconnects < 1 {
		if time.Now().After(deadline) {
			t.Fatalf("flooder not disconnected: %+v", b.Stats())
		}
		time.Sleep(5 * time.Millisecond)
	}
	good, err := dial(t, mqttclient.Config{URL: url, ClientID: "good"})
	if err != nil {
		t.Fatal(err)
	}
	if err := good.Publish(ctx, "t/good", []byte("hi"), 0); err != nil {
		t.Fatal(err)
	}
	select {
	case <-marker:
	case <-time.After(10 * time.Second):
		t.Fatal("well-behaved client's message lost")
	}
	mu.Lock()
	defer mu.Unlock()
	if counts["t/flood"] != 200 {
		t.Fatalf("flooder got %d messages through, want exactly its burst of 200", counts["t/flood"])
	}
}
