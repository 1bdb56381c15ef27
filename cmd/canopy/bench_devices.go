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

// devicesPipelineBench offers 50,000 msgs/s (the target), then
// 20,000 msgs/s, then saturates both pipelines, QoS 0 end to end, and
// once more at QoS 1; 100 sensors; latencies exclude the first second.
func devicesPipelineBench(ctx context.Context, opts benchOptions) ([]benchResult, error) {
	sustained := devbench.PipelineConfig{Rate: 50_000, Count: 250_000}
	light := devbench.PipelineConfig{Rate: 20_000, Count: 100_000}
	saturate := devbench.PipelineConfig{Rate: 5_000_000, Count: 200_000}
	qos1 := devbench.PipelineConfig{Rate: 5_000_000, Count: 100_000, QoS: 1}
	if opts.Quick {
		sustained.Count, light.Count, saturate.Count, qos1.Count = 25_000, 10_000, 20_000, 10_000
	}
	var out []benchResult
	for _, stage := range []struct {
		name                  string
		cfg                   devbench.PipelineConfig
		rateTarget, p99Target string
	}{{"50k/s offered", sustained, ">= 50000", "<= 5"}, {"20k/s offered", light, "", ""}, {"saturated", saturate, "", ""}, {"saturated, QoS 1, 64 publishers", qos1, "", ""}} {
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
			benchResult{Name: "pipeline msgs/s, " + stage.name, Value: c.Rate, Unit: "msgs/s", Baseline: m.Rate, Target: stage.rateTarget, Note: note},
			benchResult{Name: "pipeline p50, " + stage.name, Value: devMillis(c.P50), Unit: "ms", Baseline: devMillis(m.P50)},
			benchResult{Name: "pipeline p99, " + stage.name, Value: devMillis(c.P99), Unit: "ms", Baseline: devMillis(m.P99), Target: stage.p99Target},
		)
	}
	return out, nil
}

func devicesOutboxBench(ctx context.Context, opts benchOptions) ([]benchResult, error) {
	d := 5 * time.Second
	if opts.Quick {
		d = time.Second
	}
	dir, err := devbench.TempDir("canopy-outbox-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	// Group commit turns concurrency into throughput: every writer waiting
	// while one fsync runs joins the next. The baseline (one badger
	// transaction, one fsync, per append) runs with the same writers.
	var out []benchResult
	var last devbench.OutboxResult
	for i, c := range []struct{ writers, batch int }{{32, 1}, {128, 1}, {8, 32}} {
		fmt.Fprintf(opts.Log, "devices: outbox appends, %d writers x %d messages per Append, %s\n", c.writers, c.batch, d)
		o, err := devbench.OutboxBatchAppends(ctx, fmt.Sprintf("%s/outbox%d", dir, i), c.writers, c.batch, d)
		if err != nil {
			return nil, fmt.Errorf("outbox bench: %w", err)
		}
		fmt.Fprintf(opts.Log, "devices: badger one txn per append, %d writers, %s\n", c.writers, d)
		b, err := devbench.BadgerAppends(ctx, fmt.Sprintf("%s/badger%d", dir, i), c.writers, d)
		if err != nil {
			return nil, fmt.Errorf("badger baseline: %w", err)
		}
		out = append(out, benchResult{
			Name:  fmt.Sprintf("outbox durable appends/s, %d writers x %d msg", c.writers, c.batch),
			Value: o.Rate, Unit: "msgs/s", Baseline: b.Rate, Target: ">= 20000",
			Note: fmt.Sprintf("fsync'd before Append returns; %.1f msgs per fsync, %.0f fsyncs/s", float64(o.Appends)/float64(max(o.Commits, 1)), float64(o.Commits)/o.Elapsed.Seconds()),
		})
		if o.Pending > last.Pending {
			last = o
		}
	}
	out = append(out, benchResult{Name: fmt.Sprintf("outbox reopen, %d pending", last.Pending), Value: devMillis(last.Recovery), Unit: "ms",
		Note: "index rebuild in Open after a clean close; after SIGKILL see BenchmarkRecoveryAfterSIGKILL"})
	return out, nil
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
