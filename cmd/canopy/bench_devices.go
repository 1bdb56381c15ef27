package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"time"

	"github.com/canopy-fleet/canopy/devices/devbench"
)

func init() {
	// The pipeline figures re-run this binary as the load generator
	// (devbench.LoadGenEnv set): sensors and sink in their own process,
	// so they share neither the scheduler nor the heap of the pipeline
	// they measure. That child never reaches the CLI.
	if ran, err := devbench.LoadGenMain(); ran {
		if err != nil {
			fmt.Fprintln(os.Stderr, "canopy: devices bench load generator: "+err.Error())
			os.Exit(1)
		}
		os.Exit(0)
	}
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

// devicesPipelineBench offers 50,000 msgs/s (the target) for 7 s
// three times, then 20,000 msgs/s, then saturates both pipelines, QoS 0 end
// to end, and once more at QoS 1; 100 sensors; latencies exclude the first
// second. The sensors and the sink are a load generator in a child process
// (this binary again), the same for Canopy and the baseline.
func devicesPipelineBench(ctx context.Context, opts benchOptions) ([]benchResult, error) {
	spawn := func() *exec.Cmd {
		exe, err := os.Executable()
		if err != nil {
			exe = os.Args[0]
		}
		return exec.Command(exe)
	}
	sustained := devbench.PipelineConfig{Rate: 50_000, Count: 350_000, Spawn: spawn}
	light := devbench.PipelineConfig{Rate: 20_000, Count: 100_000, Spawn: spawn}
	saturate := devbench.PipelineConfig{Rate: 5_000_000, Count: 200_000, Spawn: spawn}
	qos1 := devbench.PipelineConfig{Rate: 5_000_000, Count: 100_000, QoS: 1, Spawn: spawn}
	rounds := 3
	if opts.Quick {
		sustained.Count, light.Count, saturate.Count, qos1.Count = 25_000, 10_000, 20_000, 10_000
		rounds = 1
	}
	var out []benchResult
	for _, stage := range []struct {
		name                  string
		cfg                   devbench.PipelineConfig
		rounds                int
		rateTarget, p99Target string
	}{{"50k/s offered", sustained, rounds, ">= 50000", "<= 5"}, {"20k/s offered", light, 1, "", ""}, {"saturated", saturate, 1, "", ""}, {"saturated, QoS 1, 64 in flight", qos1, 1, "", ""}} {
		var cs, ms []devbench.Result
		var loads []string
		for i := range stage.rounds {
			fmt.Fprintf(opts.Log, "devices: pipeline %s, canopy (%d/%d)\n", stage.name, i+1, stage.rounds)
			loads = append(loads, loadAvg())
			c, err := devbench.Canopy(ctx, stage.cfg)
			if err != nil {
				return nil, fmt.Errorf("canopy pipeline: %w", err)
			}
			fmt.Fprintf(opts.Log, "devices: pipeline %s, mosquitto baseline (%d/%d)\n", stage.name, i+1, stage.rounds)
			m, err := devbench.Mosquitto(ctx, stage.cfg)
			if err != nil {
				return nil, fmt.Errorf("mosquitto pipeline: %w", err)
			}
			cs, ms = append(cs, c), append(ms, m)
		}
		med := func(rs []devbench.Result, f func(devbench.Result) float64) float64 {
			v := make([]float64, len(rs))
			for i, r := range rs {
				v[i] = f(r)
			}
			slices.Sort(v)
			return v[len(v)/2]
		}
		rate := func(r devbench.Result) float64 { return r.Rate }
		p50 := func(r devbench.Result) float64 { return devMillis(r.P50) }
		p99 := func(r devbench.Result) float64 { return devMillis(r.P99) }
		p999 := func(r devbench.Result) float64 { return devMillis(r.P999) }
		cpu := func(r devbench.Result) float64 { return float64(r.CPUPerMsg()) / 1e3 }
		gcs := func(r devbench.Result) float64 { return float64(r.Runtime.GCCycles) / r.Elapsed.Seconds() }
		var p99s, waits []string
		var delivered, drops string
		for i := range cs {
			p99s = append(p99s, fmt.Sprintf("%.1f/%.1f", p99(cs[i]), p99(ms[i])))
			waits = append(waits, fmt.Sprintf("%.0f+%.0f", devMillis(cs[i].RunqueueWait), devMillis(cs[i].LoadRunqueueWait)))
			delivered += fmt.Sprintf(" %d/%d (baseline %d/%d)", cs[i].Received, cs[i].Sent, ms[i].Received, ms[i].Sent)
			drops += fmt.Sprint(" ", cs[i].Dropped)
		}
		runs := ""
		if stage.rounds > 1 {
			runs = fmt.Sprintf("median of %d runs; ", stage.rounds)
		}
		cpuC, cpuM := med(cs, cpu), med(ms, cpu)
		out = append(out,
			benchResult{Name: "pipeline CPU per message, " + stage.name, Value: cpuC, Unit: "µs", Baseline: cpuM,
				Note: fmt.Sprintf("%sbroker and task process (+ mosquitto for the baseline), load generator excluded; 2 idle cores would carry %.0f msgs/s (baseline %.0f)", runs, 2e6/cpuC, 2e6/cpuM)},
			benchResult{Name: "pipeline msgs/s, " + stage.name, Value: med(cs, rate), Unit: "msgs/s", Baseline: med(ms, rate), Target: stage.rateTarget,
				Note: fmt.Sprintf("%sdelivered%s, drops%s; load avg %s", runs, delivered, drops, strings.Join(loads, ", "))},
			benchResult{Name: "pipeline p50, " + stage.name, Value: med(cs, p50), Unit: "ms", Baseline: med(ms, p50)},
			benchResult{Name: "pipeline p99, " + stage.name, Value: med(cs, p99), Unit: "ms", Baseline: med(ms, p99), Target: stage.p99Target,
				Note: fmt.Sprintf("%sruns (canopy/baseline): %s; measured %.1f s after 1 s warm-up; canopy's threads waited for a CPU (pipeline+load generator, ms): %s",
					runs, strings.Join(p99s, ", "), cs[0].Measured.Seconds(), strings.Join(waits, ", "))},
			benchResult{Name: "pipeline p99.9, " + stage.name, Value: med(cs, p999), Unit: "ms", Baseline: med(ms, p999),
				Note: fmt.Sprintf("GC cycles/s in the pipeline process %.0f (baseline's paho process %.0f)", med(cs, gcs), med(ms, gcs))},
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
