package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/canopy-fleet/canopy/devices/devbench"
)

func init() {
	registerBenchSuite(benchSuite{
		Name:  "devices",
		Short: "sensor → broker → handler → publish msgs/s and p99 (embedded broker vs mosquitto + paho), durable outbox appends/s (vs badger one txn per append), probe cost",
		Run:   runDevicesBench,
	})
}

func runDevicesBench(ctx context.Context, opts benchOptions) ([]benchResult, error) {
	var out []benchResult
	pipe, err := devicesPipelineBench(ctx, opts)
	if err != nil {
		return nil, err
	}
	out = append(out, pipe...)
	ob, err := devicesOutboxBench(ctx, opts)
	if err != nil {
		return nil, err
	}
	out = append(out, ob...)
	pr, err := devicesProbeBench(ctx, opts)
	if err != nil {
		return nil, err
	}
	return append(out, pr...), nil
}

// devicesPipelineBench offers 50,000 msgs/s (the target) and then
// saturates both pipelines; QoS 0 end to end, 100 sensors.
func devicesPipelineBench(ctx context.Context, opts benchOptions) ([]benchResult, error) {
	sustained := devbench.PipelineConfig{Rate: 50_000, Count: 250_000}
	saturate := devbench.PipelineConfig{Rate: 5_000_000, Count: 200_000}
	if opts.Quick {
		sustained.Count, saturate.Count = 25_000, 20_000
	}
	var out []benchResult
	for _, stage := range []struct {
		name string
		cfg  devbench.PipelineConfig
	}{{"50k/s offered", sustained}, {"saturated", saturate}} {
		fmt.Fprintf(opts.Log, "devices: pipeline %s, canopy\n", stage.name)
		c, err := devbench.Canopy(ctx, stage.cfg)
		if err != nil {
			return nil, fmt.Errorf("canopy pipeline: %w", err)
		}
		fmt.Fprintf(opts.Log, "devices: pipeline %s, mosquitto baseline\n", stage.name)
		m, err := devbench.Mosquitto(ctx, stage.cfg)
		if err != nil {
			return nil, fmt.Errorf("mosquitto pipeline: %w", err)
		}
		note := fmt.Sprintf("delivered %d/%d (baseline %d/%d), drops %d; load avg %s", c.Received, c.Sent, m.Received, m.Sent, c.Dropped, loadAvg())
		cpuC, cpuM := float64(c.CPUPerMsg())/1e3, float64(m.CPUPerMsg())/1e3
		out = append(out,
			benchResult{Name: "pipeline CPU per message, " + stage.name, Value: cpuC, Unit: "µs", Baseline: cpuM,
				Note: fmt.Sprintf("whole pipeline incl. mosquitto; 2 idle cores would carry %.0f msgs/s (baseline %.0f)", 2e6/cpuC, 2e6/cpuM)},
			benchResult{Name: "pipeline msgs/s, " + stage.name, Value: c.Rate, Unit: "msgs/s", Baseline: m.Rate, Target: ">= 50000", Note: note},
			benchResult{Name: "pipeline p50, " + stage.name, Value: devMillis(c.P50), Unit: "ms", Baseline: devMillis(m.P50)},
			benchResult{Name: "pipeline p99, " + stage.name, Value: devMillis(c.P99), Unit: "ms", Baseline: devMillis(m.P99), Target: "<= 5"},
		)
	}
	return out, nil
}

func devicesOutboxBench(ctx context.Context, opts benchOptions) ([]benchResult, error) {
	d := 5 * time.Second
	if opts.Quick {
		d = time.Second
	}
	const writers = 32
	dir, err := devbench.TempDir("canopy-outbox-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	fmt.Fprintf(opts.Log, "devices: outbox appends, %d writers, %s\n", writers, d)
	o, err := devbench.OutboxAppends(ctx, dir+"/outbox", writers, d)
	if err != nil {
		return nil, fmt.Errorf("outbox bench: %w", err)
	}
	fmt.Fprintf(opts.Log, "devices: badger one txn per append, %d writers, %s\n", writers, d)
	b, err := devbench.BadgerAppends(ctx, dir+"/badger", writers, d)
	if err != nil {
		return nil, fmt.Errorf("badger baseline: %w", err)
	}
	return []benchResult{
		{Name: "outbox durable appends/s", Value: o.Rate, Unit: "appends/s", Baseline: b.Rate, Target: ">= 20000",
			Note: fmt.Sprintf("fsync'd before Append returns; %d writers, %.1f appends per fsync", writers, float64(o.Appends)/float64(max(o.Commits, 1)))},
		{Name: fmt.Sprintf("outbox reopen, %d pending", o.Pending), Value: devMillis(o.Recovery), Unit: "ms", Note: "index rebuild in Open; after SIGKILL see BenchmarkRecoveryAfterSIGKILL"},
	}, nil
}

func devicesProbeBench(ctx context.Context, opts benchOptions) ([]benchResult, error) {
	n, m := 21, 200
	if opts.Quick {
		n, m = 5, 20
	}
	fmt.Fprintln(opts.Log, "devices: probe")
	r, err := devbench.Probe(ctx, n, m)
	if err != nil {
		return nil, fmt.Errorf("probe bench: %w", err)
	}
	return []benchResult{
		{Name: "full probe (median, no score)", Value: devMillis(r.Full), Unit: "ms", Target: "<= 200"},
		{Name: "live refresh every 5s, CPU", Value: r.CorePercent, Unit: "% of a core", Target: "<= 1", Note: fmt.Sprintf("%.2f ms CPU per refresh", devMillis(r.RefreshCPU))},
	}, nil
}

// loadAvg is the 1-minute load average, to judge how busy the machine was.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return "?"
	}
	return f[0]
}

func devMillis(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
