package devbench

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/canopy-fleet/canopy/devices/broker"
	"github.com/canopy-fleet/canopy/devices/mosquitto"
	"github.com/canopy-fleet/canopy/devices/mqttclient"
	"github.com/canopy-fleet/canopy/devices/route"
	"github.com/canopy-fleet/canopy/devices/sensorsim"
	"github.com/canopy-fleet/canopy/kernel"
)

// PipelineConfig is one pipeline run: Count messages from Sensors sensors
// offered at Rate msgs/s, at QoS end to end.
type PipelineConfig struct {
	Rate    float64
	Count   int
	Sensors int
	// QoS is used for every publish and subscription (0 or 1). At QoS 1
	// the sensors publish from Publishers goroutines, each waiting for its
	// acknowledgement, as many devices would.
	QoS        byte
	Publishers int
	// Drain is how long to wait for stragglers after the last send.
	Drain time.Duration
	// Warmup is the start of the run whose latencies are not counted
	// (connections, buffers and the heap growing); zero means one second,
	// at most a quarter of the messages.
	Warmup time.Duration
}

func (c *PipelineConfig) defaults() {
	if c.Sensors == 0 {
		c.Sensors = 100
	}
	if c.Drain == 0 {
		c.Drain = 3 * time.Second
	}
	if c.Publishers == 0 {
		c.Publishers = 64
	}
	if c.Warmup == 0 {
		c.Warmup = time.Second
	}
}

// middle is the part that differs between the two pipelines: it receives
// sensors/# and publishes processed/# on the broker at url.
type middle interface {
	dropped() int64
	close()
}

// external is CPU time spent outside this process (the mosquitto broker).
type external func() time.Duration

// Canopy runs sensor (paho over TCP) → embedded broker → broker tap →
// route.Router → handler → in-process publish → sink (paho over TCP): how a
// Canopy node runs a task next to its broker.
func Canopy(ctx context.Context, cfg PipelineConfig) (Result, error) {
	b, err := broker.New(broker.Config{Addr: "127.0.0.1:0", MaxPendingWrites: 1 << 16})
	if err != nil {
		return Result{}, err
	}
	if err := b.Start(ctx); err != nil {
		return Result{}, err
	}
	defer b.Close()
	m, err := newCanopyMiddle(b, cfg.QoS)
	if err != nil {
		return Result{}, err
	}
	defer m.close()
	return run(ctx, cfg, "tcp://"+b.Addr(), m, nil)
}

type canopyMiddle struct {
	r *route.Router
	b *broker.Broker
}

func newCanopyMiddle(b *broker.Broker, qos byte) (*canopyMiddle, error) {
	r, err := route.New(route.Config{QueueSize: 1 << 16})
	if err != nil {
		return nil, err
	}
	var buf []byte
	err = r.Add(route.Subscriber{
		ID:   "task",
		Subs: []kernel.Subscription{{Topic: "sensors/#"}},
		Handler: func(topic string, p []byte) {
			var ok bool
			if buf, ok = handle(p, buf); ok {
				_ = b.Publish("processed/"+strings.TrimPrefix(topic, "sensors/"), append([]byte(nil), buf...), qos)
			}
		},
	})
	if err != nil {
		return nil, err
	}
	b.Tap(func(topic string, p []byte) { r.Deliver(topic, p) }) // the broker never reuses p
	return &canopyMiddle{r: r, b: b}, nil
}

func (m *canopyMiddle) dropped() int64 {
	st, _ := m.r.Stats("task")
	return st.Overflow + m.b.Stats().MessagesDropped
}

func (m *canopyMiddle) close() { m.r.Close() }

// Mosquitto runs the baseline: sensor (paho over TCP) → mosquitto → a plain
// paho subscriber doing the same handler work in its callback and
// publishing back over TCP → mosquitto → sink (paho over TCP).
func Mosquitto(ctx context.Context, cfg PipelineConfig) (Result, error) {
	p, err := mosquitto.Start(ctx, mosquitto.Config{})
	if err != nil {
		return Result{}, err
	}
	defer p.Stop()
	m, err := newPahoMiddle(ctx, p.URL(), cfg.QoS)
	if err != nil {
		return Result{}, err
	}
	defer m.close()
	pid := p.PID()
	return run(ctx, cfg, p.URL(), m, func() time.Duration { return processCPU(pid) })
}

type pahoMiddle struct{ c paho.Client }

func newPahoMiddle(ctx context.Context, url string, qos byte) (*pahoMiddle, error) {
	opts := paho.NewClientOptions().AddBroker(url).SetClientID("baseline-task").SetProtocolVersion(4)
	c := paho.NewClient(opts)
	if err := waitToken(ctx, c.Connect()); err != nil {
		return nil, fmt.Errorf("baseline connect: %w", err)
	}
	var buf []byte
	t := c.Subscribe("sensors/#", qos, func(c paho.Client, m paho.Message) {
		var ok bool
		if buf, ok = handle(m.Payload(), buf); ok {
			c.Publish("processed/"+strings.TrimPrefix(m.Topic(), "sensors/"), qos, false, append([]byte(nil), buf...))
		}
	})
	if err := waitToken(ctx, t); err != nil {
		c.Disconnect(0)
		return nil, fmt.Errorf("baseline subscribe: %w", err)
	}
	return &pahoMiddle{c: c}, nil
}

func (m *pahoMiddle) dropped() int64 { return 0 }
func (m *pahoMiddle) close()         { m.c.Disconnect(50) }

func waitToken(ctx context.Context, t paho.Token) error {
	select {
	case <-t.Done():
		return t.Error()
	case <-ctx.Done():
		return ctx.Err()
	}
}

// run drives the sensors and the sink against a broker with a middle.
func run(ctx context.Context, cfg PipelineConfig, url string, m middle, ext external) (Result, error) {
	cfg.defaults()
	if cfg.Count <= 0 || !(cfg.Rate > 0) {
		return Result{}, errors.New("pipeline: count and rate must be positive")
	}
	rec := newRecorder(cfg.Count)
	rec.warm = uint64(min(cfg.Rate*cfg.Warmup.Seconds(), float64(cfg.Count)/4))
	sink, err := mqttclient.Dial(ctx, mqttclient.Config{URL: url, ClientID: "bench-sink", QueueSize: cfg.Count + 1})
	if err != nil {
		return Result{}, err
	}
	defer sink.Close()
	if err := sink.Subscribe(ctx, "processed/#", cfg.QoS, func(_ string, p []byte) {
		if seq, ok := seqOf(p); ok {
			rec.arrived(seq)
		}
	}); err != nil {
		return Result{}, err
	}
	sensor, err := mqttclient.Dial(ctx, mqttclient.Config{URL: url, ClientID: "bench-sensors"})
	if err != nil {
		return Result{}, err
	}
	defer sensor.Close()

	var n atomic.Uint64
	cpu0 := cpuTime()
	var ext0 time.Duration
	if ext != nil {
		ext0 = ext()
	}
	rec.start = time.Now()
	publish := func(ctx context.Context, topic string, p []byte) error {
		rec.markSent(n.Add(1))
		return sensor.Publish(ctx, topic, p, cfg.QoS)
	}
	var pool *publisherPool
	if cfg.QoS > 0 {
		pool = newPublisherPool(ctx, cfg.Publishers, func(ctx context.Context, topic string, p []byte) error {
			return sensor.Publish(ctx, topic, p, cfg.QoS)
		})
		publish = func(ctx context.Context, topic string, p []byte) error {
			rec.markSent(n.Add(1))
			return pool.submit(ctx, topic, p)
		}
	}
	st, err := sensorsim.Run(ctx, sensorsim.Config{Sensors: cfg.Sensors, Rate: cfg.Rate, Count: cfg.Count, Seed: 1}, publish)
	if pool != nil {
		if perr := pool.close(); err == nil {
			err = perr
		}
	}
	if err != nil {
		return Result{}, err
	}
	select {
	case <-rec.done:
	case <-time.After(cfg.Drain):
	case <-ctx.Done():
		return Result{}, ctx.Err()
	}
	res := rec.result(cfg.Rate, st.Sent)
	res.CPU = cpuTime() - cpu0
	if ext != nil {
		res.CPU += ext() - ext0
	}
	res.Dropped = m.dropped() + sink.Stats().Dropped
	return res, nil
}
