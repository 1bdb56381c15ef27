package devbench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/canopy-fleet/canopy/devices/sensorsim"
)

// loadConfig is one load generator run against the broker at Addr: Count
// sensor readings offered at Rate msgs/s on sensors/<sensor>/<kind>, and a
// sink on processed/# timing each result by the seq it carries.
type loadConfig struct {
	Addr    string
	Rate    float64
	Count   int
	Sensors int
	QoS     byte
	// Window is how many QoS 1 publishes may await their PUBACK at once
	// (devices in flight).
	Window int
	// Pace is the sender's step: it sleeps this long when nothing is due
	// and then sends, in one write, every reading that fell due meanwhile.
	Pace   time.Duration
	Warmup time.Duration
	Drain  time.Duration
}

// maxBatch bounds the readings written at once (when the sender fell
// behind or the rate is above what it can send).
const maxBatch = 64

// loadRun is the state shared by the sender and the sink of one run.
type loadRun struct {
	cfg   loadConfig
	start time.Time
	// sent is seq → ns since start when its batch was written, plus one
	// (0 = not sent); atomic because the sink reads what the sender wrote
	// with only TCP between them.
	sent []atomic.Int64
	lat  *latencies

	window chan uint16 // free QoS 1 packet ids
}

// runLoad connects a sink and a sensor connection to cfg.Addr, calls ready
// (which may block: the caller's start signal), then publishes and
// measures. The sink and sender share one clock, so a result is timed by
// looking up its seq's send time.
func runLoad(ctx context.Context, cfg loadConfig, ready func() error) (Result, error) {
	if cfg.Count <= 0 || !(cfg.Rate > 0) || cfg.Sensors <= 0 {
		return Result{}, errors.New("load generator: count, rate and sensors must be positive")
	}
	sink, err := dialRaw(ctx, cfg.Addr, "bench-sink")
	if err != nil {
		return Result{}, err
	}
	defer sink.c.Close()
	if err := sink.subscribe(ctx, "processed/#", cfg.QoS); err != nil {
		return Result{}, err
	}
	sensor, err := dialRaw(ctx, cfg.Addr, "bench-sensors")
	if err != nil {
		return Result{}, err
	}
	defer sensor.c.Close()

	warm := uint64(min(cfg.Rate*cfg.Warmup.Seconds(), float64(cfg.Count)/4))
	lr := &loadRun{cfg: cfg, sent: make([]atomic.Int64, cfg.Count+2), lat: newLatencies(cfg.Count, warm)}
	if cfg.QoS > 0 {
		lr.window = make(chan uint16, cfg.Window)
		for id := range cfg.Window {
			lr.window <- uint16(id + 1)
		}
	}
	if err := ready(); err != nil {
		return Result{}, err
	}
	cpu0, wait0 := cpuTime(), runqueueWait()
	lr.start = time.Now()
	lr.lat.start = lr.start

	var wg sync.WaitGroup
	sinkErr := make(chan error, 1)
	wg.Add(2)
	go func() {
		defer wg.Done()
		sinkErr <- lr.sink(sink)
	}()
	ackErr := make(chan error, 1)
	go func() {
		defer wg.Done()
		ackErr <- lr.acks(sensor)
	}()
	sent, sendErr := lr.send(ctx, sensor)
	if sendErr == nil {
		select {
		case <-lr.lat.done:
		case <-time.After(cfg.Drain):
		case <-ctx.Done():
			sendErr = ctx.Err()
		}
	}
	elapsedCPU, waited := cpuTime()-cpu0, runqueueWait()-wait0
	sensor.disconnect()
	sink.disconnect()
	wg.Wait()
	if sendErr != nil {
		return Result{}, sendErr
	}
	if err := <-sinkErr; err != nil {
		return Result{}, err
	}
	if err := <-ackErr; err != nil {
		return Result{}, err
	}
	res := lr.lat.result(cfg.Rate, sent)
	res.LoadCPU, res.LoadRunqueueWait = elapsedCPU, waited
	return res, nil
}

// send publishes cfg.Count readings at cfg.Rate: every cfg.Pace it writes
// the readings that fell due, stamped with the time of that write.
func (lr *loadRun) send(ctx context.Context, c *rawConn) (int, error) {
	cfg := lr.cfg
	defer fineSleeps()()
	g := sensorsim.NewGenerator(cfg.Sensors, 1)
	topics := map[string]string{}
	var out bytes.Buffer
	var payload []byte
	seqs := make([]uint64, 0, maxBatch)
	sent := 0
	flush := func() error {
		if out.Len() == 0 {
			return nil
		}
		at := int64(time.Since(lr.start)) + 1
		for _, s := range seqs {
			if s < uint64(len(lr.sent)) {
				lr.sent[s].Store(at)
			}
		}
		seqs = seqs[:0]
		_, err := c.c.Write(out.Bytes())
		out.Reset()
		if err != nil {
			return fmt.Errorf("load generator publish: %w", err)
		}
		return nil
	}
	for sent < cfg.Count {
		if err := ctx.Err(); err != nil {
			return sent, err
		}
		now := time.Now()
		due := min(int(now.Sub(lr.start).Seconds()*cfg.Rate)+1, cfg.Count)
		if due <= sent {
			sleep(cfg.Pace)
			continue
		}
		for n := min(due-sent, maxBatch); n > 0; n-- {
			r := g.Next(now)
			topic, ok := topics[string(r.Kind)+r.Sensor]
			if !ok {
				topic = r.Topic("sensors")
				topics[string(r.Kind)+r.Sensor] = topic
			}
			payload = r.AppendJSON(payload[:0])
			var id uint16
			if cfg.QoS > 0 {
				select {
				case id = <-lr.window:
				default:
					// Every id is in flight: send what is encoded, then wait.
					if err := flush(); err != nil {
						return sent, err
					}
					select {
					case id = <-lr.window:
					case <-ctx.Done():
						return sent, ctx.Err()
					}
				}
			}
			if err := appendPublish(&out, topic, payload, cfg.QoS, id); err != nil {
				return sent, err
			}
			seqs = append(seqs, r.Seq)
			sent++
		}
		if err := flush(); err != nil {
			return sent, err
		}
	}
	return sent, nil
}

// acks returns QoS 1 packet ids to the window as their PUBACKs arrive; at
// QoS 0 it only waits for the connection to close.
func (lr *loadRun) acks(c *rawConn) error {
	for {
		pk, err := c.read()
		if err != nil {
			if isClosed(err) {
				return nil
			}
			return fmt.Errorf("load generator sensor connection: %w", err)
		}
		if pk.FixedHeader.Type == packets.Puback && lr.window != nil {
			lr.window <- pk.PacketID
		}
	}
}

// sink times every result by its seq and acknowledges QoS 1 deliveries,
// writing acknowledgements when no more input is buffered.
func (lr *loadRun) sink(c *rawConn) error {
	var acks bytes.Buffer
	for {
		pk, err := c.read()
		if err != nil {
			if isClosed(err) {
				return nil
			}
			return fmt.Errorf("load generator sink: %w", err)
		}
		if pk.FixedHeader.Type != packets.Publish {
			continue
		}
		now := int64(time.Since(lr.start))
		if seq, ok := seqOf(pk.Payload); ok && seq < uint64(len(lr.sent)) {
			lr.lat.arrived(seq, now, lr.sent[seq].Load())
		}
		if pk.FixedHeader.Qos > 0 {
			if err := appendPuback(&acks, pk.PacketID); err != nil {
				return err
			}
			if c.r.Buffered() == 0 {
				_, err := c.c.Write(acks.Bytes())
				acks.Reset()
				if err != nil && !isClosed(err) {
					return fmt.Errorf("load generator sink ack: %w", err)
				}
			}
		}
	}
}
