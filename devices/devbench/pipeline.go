package devbench

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/canopy-fleet/canopy/devices/broker"
	"github.com/canopy-fleet/canopy/devices/mosquitto"
	"github.com/canopy-fleet/canopy/devices/route"
	"github.com/canopy-fleet/canopy/kernel"
)

// PipelineConfig is one pipeline run: Count messages from Sensors sensors
// offered at Rate msgs/s, at QoS end to end.
type PipelineConfig struct {
	Rate    float64
	Count   int
	Sensors int
	// QoS is used for every publish and subscription (0 or 1). At QoS 1
	// at most Publishers sensor publishes await their acknowledgement at
	// once (devices in flight); zero means 64.
	QoS        byte
	Publishers int
	// Drain is how long to wait for stragglers after the last send.
	Drain time.Duration
	// Warmup is the start of the run whose latencies are not counted
	// (connections, buffers and the heap growing); zero means one second,
	// at most a quarter of the messages.
	Warmup time.Duration
	// Pace is the sensors' sending step: every Pace they write the
	// readings that fell due since the last step; zero means 200 µs.
	Pace time.Duration
	// Spawn, when set, makes a command that re-runs this program as the
	// load generator (the sensors and the sink; the program must call
	// LoadGenMain first thing), so they take no share of the pipeline
	// process's scheduler, heap or garbage collector. Nil runs them in
	// this process.
	Spawn func() *exec.Cmd
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
	if c.Pace == 0 {
		c.Pace = pace
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

// Canopy runs sensors (raw MQTT over TCP) → embedded broker → broker tap →
// route.Router → handler → in-process publish → sink (raw MQTT over TCP):
// how a Canopy node runs a task next to its broker.
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

// Mosquitto runs the baseline: sensors (raw MQTT over TCP, the same load
// generator) → mosquitto → a plain paho subscriber doing the same handler
// work in its callback and publishing back over TCP → mosquitto → sink.
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
		return Result{}, errNoCount
	}
	lc := loadConfig{
		Addr: strings.TrimPrefix(url, "tcp://"), Rate: cfg.Rate, Count: cfg.Count, Sensors: cfg.Sensors,
		QoS: cfg.QoS, Window: cfg.Publishers, Pace: cfg.Pace, Warmup: cfg.Warmup, Drain: cfg.Drain,
	}
	var cpu0, ext0, wait0 time.Duration
	var rt0 runtimeSnapshot
	onStart := func() {
		rt0 = readRuntime()
		wait0 = runqueueWait()
		cpu0 = cpuTime()
		if ext != nil {
			ext0 = ext()
		}
	}
	var res Result
	var err error
	if cfg.Spawn != nil {
		res, err = spawnLoad(ctx, cfg.Spawn(), lc, onStart)
	} else {
		res, err = runLoad(ctx, lc, func() error { onStart(); return nil })
	}
	if err != nil {
		return Result{}, err
	}
	res.CPU = cpuTime() - cpu0
	res.Runtime = readRuntime().since(rt0)
	res.RunqueueWait = runqueueWait() - wait0
	if ext != nil {
		res.CPU += ext() - ext0
	}
	if cfg.Spawn == nil {
		res.LoadCPU, res.LoadRunqueueWait = 0, 0 // they measured this whole process
	}
	res.Dropped = m.dropped()
	return res, nil
}
