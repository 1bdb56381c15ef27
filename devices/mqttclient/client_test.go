package mqttclient_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/canopy-fleet/canopy/devices/broker"
	"github.com/canopy-fleet/canopy/devices/mosquitto"
	"github.com/canopy-fleet/canopy/devices/mqttclient"
)

// brokerUnderTest is a broker the client tests run against, embedded or
// mosquitto, that can be killed and brought back on the same address.
type brokerUnderTest interface {
	URL() string
	Restart(t *testing.T)
	Stop()
}

type embedded struct {
	addr string
	b    *broker.Broker
}

func startEmbedded(t *testing.T, addr string) *embedded {
	t.Helper()
	b, err := broker.New(broker.Config{Addr: addr})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	return &embedded{addr: b.Addr(), b: b}
}

func (e *embedded) URL() string { return "tcp://" + e.addr }
func (e *embedded) Stop()       { _ = e.b.Close() }
func (e *embedded) Restart(t *testing.T) {
	_ = e.b.Close()
	var err error
	for i := 0; i < 50; i++ { // the port may linger for a moment
		var b *broker.Broker
		if b, err = broker.New(broker.Config{Addr: e.addr}); err == nil {
			if err = b.Start(context.Background()); err == nil {
				e.b = b
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("restart embedded broker: %v", err)
}

type external struct{ p *mosquitto.Process }

func startMosquitto(t *testing.T) *external {
	t.Helper()
	if !mosquitto.Installed("") {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s missing: CI needs mosquitto (apt-get install mosquitto)", mosquitto.DefaultBinary)
		}
		t.Skip("mosquitto not installed")
	}
	p, err := mosquitto.Start(context.Background(), mosquitto.Config{})
	if err != nil {
		t.Fatal(err)
	}
	return &external{p: p}
}

func (e *external) URL() string { return e.p.URL() }
func (e *external) Stop()       { e.p.Stop() }
func (e *external) Restart(t *testing.T) {
	if err := e.p.Restart(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func brokers(t *testing.T) map[string]func(t *testing.T) brokerUnderTest {
	return map[string]func(t *testing.T) brokerUnderTest{
		"embedded":  func(t *testing.T) brokerUnderTest { return startEmbedded(t, "127.0.0.1:0") },
		"mosquitto": func(t *testing.T) brokerUnderTest { return startMosquitto(t) },
	}
}

func dial(t *testing.T, url, id string) *mqttclient.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := mqttclient.Dial(ctx, mqttclient.Config{URL: url, ClientID: id, MaxReconnectInterval: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

type msg struct{ topic, payload string }

func recv(t *testing.T, ch <-chan msg) msg {
	t.Helper()
	select {
	case m := <-ch:
		return m
	case <-time.After(10 * time.Second):
		t.Fatal("no message within 10s")
		return msg{}
	}
}

func TestPublishSubscribe(t *testing.T) {
	for name, start := range brokers(t) {
		t.Run(name, func(t *testing.T) {
			b := start(t)
			defer b.Stop()
			ctx := context.Background()
			sub := dial(t, b.URL(), "sub")
			pub := dial(t, b.URL(), "pub")
			got := make(chan msg, 16)
			if err := sub.Subscribe(ctx, "sensors/+/temperature", 1, func(topic string, p []byte) {
				got <- msg{topic, string(p)}
			}); err != nil {
				t.Fatal(err)
			}
			if err := pub.Publish(ctx, "sensors/s1/humidity", []byte("no"), 1); err != nil {
				t.Fatal(err)
			}
			if err := pub.Publish(ctx, "sensors/s1/temperature", []byte("21.5"), 1); err != nil {
				t.Fatal(err)
			}
			if m := recv(t, got); m != (msg{"sensors/s1/temperature", "21.5"}) {
				t.Fatalf("got %+v", m)
			}
		})
	}
}

// A handler that publishes and waits for the ack must not deadlock paho.
func TestHandlerMayPublish(t *testing.T) {
	b := startEmbedded(t, "127.0.0.1:0")
	defer b.Stop()
	ctx := context.Background()
	c := dial(t, b.URL(), "echo")
	got := make(chan msg, 16)
	if err := c.Subscribe(ctx, "out/#", 1, func(topic string, p []byte) { got <- msg{topic, string(p)} }); err != nil {
		t.Fatal(err)
	}
	if err := c.Subscribe(ctx, "in/+", 1, func(topic string, p []byte) {
		if err := c.Publish(ctx, "out/"+strings.TrimPrefix(topic, "in/"), p, 1); err != nil {
			t.Error(err)
		}
	}); err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		if err := c.Publish(ctx, fmt.Sprintf("in/%d", i), []byte("x"), 1); err != nil {
			t.Fatal(err)
		}
	}
	for range 100 {
		recv(t, got)
	}
}

// After the broker restarts (losing every session), the client reconnects
// and makes its subscriptions again.
func TestReconnectResubscribes(t *testing.T) {
	for name, start := range brokers(t) {
		t.Run(name, func(t *testing.T) {
			b := start(t)
			defer b.Stop()
			ctx := context.Background()
			sub := dial(t, b.URL(), "sub")
			pub := dial(t, b.URL(), "pub")
			got := make(chan msg, 1024)
			if err := sub.Subscribe(ctx, "alarm/#", 1, func(topic string, p []byte) { got <- msg{topic, string(p)} }); err != nil {
				t.Fatal(err)
			}
			if err := pub.Publish(ctx, "alarm/a", []byte("before"), 1); err != nil {
				t.Fatal(err)
			}
			recv(t, got)

			b.Restart(t)
			// Publish until the subscriber's new session receives one:
			// both clients reconnect on their own schedule.
			deadline := time.Now().Add(15 * time.Second)
			for {
				pctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
				_ = pub.Publish(pctx, "alarm/b", []byte("after"), 1)
				cancel()
				select {
				case m := <-got:
					if m.payload != "after" {
						t.Fatalf("got %+v", m)
					}
					if sub.Stats().Reconnects < 1 || pub.Stats().Reconnects < 1 {
						t.Fatalf("reconnects sub=%d pub=%d", sub.Stats().Reconnects, pub.Stats().Reconnects)
					}
					return
				case <-time.After(100 * time.Millisecond):
				}
				if time.Now().After(deadline) {
					t.Fatal("no message after broker restart within 15s")
				}
			}
		})
	}
}

func TestBadInput(t *testing.T) {
	b := startEmbedded(t, "127.0.0.1:0")
	defer b.Stop()
	ctx := context.Background()
	c := dial(t, b.URL(), "bad")
	noop := func(string, []byte) {}
	cases := []struct {
		name string
		err  error
	}{
		{"publish wildcard", c.Publish(ctx, "a/+/b", nil, 1)},
		{"publish empty topic", c.Publish(ctx, "", nil, 1)},
		{"publish qos 3", c.Publish(ctx, "a", nil, 3)},
		{"subscribe bad filter", c.Subscribe(ctx, "a/#/b", 1, noop)},
		{"subscribe nil handler", c.Subscribe(ctx, "a", 1, nil)},
	}
	for _, tc := range cases {
		if tc.err == nil || strings.Contains(tc.err.Error(), "\n") {
			t.Errorf("%s: want a one-line error, got %v", tc.name, tc.err)
		}
	}
	for _, url := range []string{"http://x:1", "tcp://", "::::"} {
		if _, err := mqttclient.Dial(ctx, mqttclient.Config{URL: url}); err == nil {
			t.Errorf("dial %q: want error", url)
		}
	}
	c.Close()
	if err := c.Publish(ctx, "a", nil, 1); !errors.Is(err, mqttclient.ErrClosed) {
		t.Errorf("publish after close: %v", err)
	}
}

func TestDialRefused(t *testing.T) {
	port, err := mosquitto.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err = mqttclient.Dial(ctx, mqttclient.Config{URL: fmt.Sprintf("tcp://127.0.0.1:%d", port)})
	if err == nil || !strings.Contains(err.Error(), "mqtt connect") {
		t.Fatalf("want connect error, got %v", err)
	}
}
