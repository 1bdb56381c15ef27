package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/canopy-fleet/canopy/devices/broker"
	"github.com/canopy-fleet/canopy/devices/mqttclient"
	"github.com/canopy-fleet/canopy/wasmhost/testmodules"
)

func init() {
	registerBenchSuite(benchSuite{
		Name:  "run",
		Short: "canopy run end to end over MQTT (publish → task → publish back) vs a native Go paho echo, same broker, same run",
		Run:   runE2EBench,
	})
}

// e2eWindow bounds the messages in flight, so the figure is a sustained rate
// without drops rather than a burst into queues.
const e2eWindow = 128

// runE2EBench measures an MQTT echo through `canopy run` (the wasmhost test
// guest's "echo" handler republishes each payload on echo/out) against the
// same echo written natively with paho, both on one embedded broker.
func runE2EBench(ctx context.Context, opts benchOptions) ([]benchResult, error) {
	n := 20000
	if opts.Quick {
		n = 1000
	}
	b, err := broker.New(broker.Config{Addr: "127.0.0.1:0"})
	if err != nil {
		return nil, err
	}
	if err := b.Start(ctx); err != nil {
		return nil, err
	}
	defer b.Close()
	url := "tcp://" + b.Addr()

	native, err := mqttclient.Dial(ctx, mqttclient.Config{URL: url})
	if err != nil {
		return nil, err
	}
	err = native.Subscribe(ctx, "echo", 1, func(_ string, p []byte) { native.Publish(ctx, "echo/out", p, 1) })
	if err != nil {
		native.Close()
		return nil, err
	}
	base, err := measureEcho(ctx, url, n, e2eWindow)
	var base1 echoFigures
	if err == nil {
		base1, err = measureEcho(ctx, url, n/10, 1)
	}
	native.Close()
	if err != nil {
		return nil, fmt.Errorf("native baseline: %w", err)
	}

	stop, err := startEchoTask(ctx, url)
	if err != nil {
		return nil, err
	}
	task, err := measureEcho(ctx, url, n, e2eWindow)
	var task1 echoFigures
	if err == nil {
		task1, err = measureEcho(ctx, url, n/10, 1)
	}
	stop()
	if err != nil {
		return nil, fmt.Errorf("canopy run: %w", err)
	}
	note := fmt.Sprintf("%d msgs of 64 B, QoS 0 in / QoS 1 out, %d in flight", n, e2eWindow)
	return []benchResult{
		{Name: "e2e msgs/s", Value: task.rate, Unit: "msg/s", Baseline: base.rate, Note: note},
		{Name: "e2e p50 (loaded)", Value: ms(task.p50), Unit: "ms", Baseline: ms(base.p50)},
		{Name: "e2e p99 (loaded)", Value: ms(task.p99), Unit: "ms", Baseline: ms(base.p99)},
		{Name: "e2e p50 (one at a time)", Value: ms(task1.p50), Unit: "ms", Baseline: ms(base1.p50), Note: fmt.Sprintf("%d msgs, 1 in flight", n/10)},
		{Name: "e2e p99 (one at a time)", Value: ms(task1.p99), Unit: "ms", Baseline: ms(base1.p99)},
	}, nil
}

// startEchoTask runs `canopy run` of the echo guest in-process, returning
// once the task answers.
func startEchoTask(ctx context.Context, url string) (stop func(), err error) {
	wasm, err := testmodules.Prebuilt("guest")
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "canopy-bench-run")
	if err != nil {
		return nil, err
	}
	mod := filepath.Join(dir, "guest.wasm")
	if err := os.WriteFile(mod, wasm, 0o644); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	var runErr error
	go func() {
		defer close(done)
		root := newRootCmd(io.Discard, io.Discard)
		root.SetArgs([]string{"run", mod, "--mqtt", url, "--subscribe", "echo", "--publish", "echo/out",
			"--publish-rate", "10000000", "--queue", "4096", "--cache", filepath.Join(dir, "cache"), "--log-level", "error"})
		runErr = root.ExecuteContext(runCtx)
	}()
	stop = func() {
		cancel()
		<-done
		os.RemoveAll(dir)
	}
	if err := awaitEcho(ctx, url, done); err != nil {
		if errors.Is(err, errTaskEnded) {
			<-done
			err = fmt.Errorf("canopy run ended: %v", runErr)
		}
		stop()
		return nil, err
	}
	return stop, nil
}

var errTaskEnded = errors.New("canopy run ended")

// awaitEcho publishes on "echo" every 50ms until an answer comes back on
// "echo/out": the task is running and subscribed.
func awaitEcho(ctx context.Context, url string, exited <-chan struct{}) error {
	c, err := mqttclient.Dial(ctx, mqttclient.Config{URL: url})
	if err != nil {
		return err
	}
	defer c.Close()
	got := make(chan struct{}, 1)
	if err := c.Subscribe(ctx, "echo/out", 1, func(string, []byte) {
		select {
		case got <- struct{}{}:
		default:
		}
	}); err != nil {
		return err
	}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	limit := time.NewTimer(30 * time.Second)
	defer limit.Stop()
	for {
		select {
		case <-got:
			return nil
		case <-tick.C:
			if err := c.Publish(ctx, "echo", make([]byte, 8), 0); err != nil {
				return err
			}
		case <-exited:
			return errTaskEnded
		case <-limit.C:
			return errors.New("the task did not answer within 30s")
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// echoPayload is the size of measureEcho's messages.
const echoPayload = 64

// echoLatency is the time since the timestamp in an echoed measureEcho
// payload; false for anything else on echo/out (awaitEcho's 8-byte probes
// may still be on their way back, and would count as answers decades old).
func echoLatency(p []byte, now time.Time) (time.Duration, bool) {
	if len(p) != echoPayload {
		return 0, false
	}
	return time.Duration(now.UnixNano() - int64(binary.LittleEndian.Uint64(p))), true
}

type echoFigures struct {
	rate     float64
	p50, p99 time.Duration
}

// measureEcho publishes n timestamped 64-byte messages on "echo", at most
// inFlight unanswered at a time, and times their return on "echo/out".
func measureEcho(ctx context.Context, url string, n, inFlight int) (echoFigures, error) {
	c, err := mqttclient.Dial(ctx, mqttclient.Config{URL: url, QueueSize: 4 * e2eWindow})
	if err != nil {
		return echoFigures{}, err
	}
	defer c.Close()
	var mu sync.Mutex
	lat := make([]time.Duration, 0, n)
	window := make(chan struct{}, inFlight)
	err = c.Subscribe(ctx, "echo/out", 1, func(_ string, p []byte) {
		d, ok := echoLatency(p, time.Now())
		if !ok {
			return
		}
		mu.Lock()
		lat = append(lat, d)
		mu.Unlock()
		select {
		case <-window:
		default:
		}
	})
	if err != nil {
		return echoFigures{}, err
	}
	payload := make([]byte, echoPayload)
	start := time.Now()
	deadline := time.NewTimer(60 * time.Second)
	defer deadline.Stop()
	for i := 0; i < n; i++ {
		select {
		case window <- struct{}{}:
		case <-deadline.C:
			return echoFigures{}, errors.New("echo stalled: messages lost")
		case <-ctx.Done():
			return echoFigures{}, ctx.Err()
		}
		binary.LittleEndian.PutUint64(payload, uint64(time.Now().UnixNano()))
		if err := c.Publish(ctx, "echo", payload, 0); err != nil {
			return echoFigures{}, err
		}
	}
	// Wait for the last answers.
	for {
		mu.Lock()
		got := len(lat)
		mu.Unlock()
		if got >= n {
			break
		}
		select {
		case <-deadline.C:
			return echoFigures{}, fmt.Errorf("echo stalled: %d of %d answered", got, n)
		case <-ctx.Done():
			return echoFigures{}, ctx.Err()
		case <-time.After(time.Millisecond):
		}
	}
	elapsed := time.Since(start)
	mu.Lock()
	defer mu.Unlock()
	slices.Sort(lat)
	return echoFigures{
		rate: float64(n) / elapsed.Seconds(),
		p50:  lat[len(lat)/2],
		p99:  lat[len(lat)*99/100],
	}, nil
}
