package runtimebench

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"time"

	"github.com/canopy-fleet/canopy/wasmhost/testmodules"
)

// Figure is one reported number with its raw-wazero baseline.
type Figure struct {
	Name     string
	Value    float64 // ours
	Baseline float64 // raw wazero, same run
	Unit     string
	Target   string
	Note     string
}

// Options control a Run.
type Options struct {
	Quick bool      // few batches: a smoke run, not a measurement
	NoGo  bool      // leave out the Go module figure (its build and compile take seconds)
	Log   io.Writer // progress; nil discards
}

// LoopIterations is the tight loop's length in the loop figure.
const LoopIterations = 10_000_000

// FibN is the argument of the recursive-calls figure (~2.7M calls).
const FibN = 30

// Run measures every figure. Modules are built from their embedded sources
// when clang (and, for the Go task, go) is on PATH, else the prebuilt C
// modules are used and the Go figure is left out.
func Run(ctx context.Context, opts Options) ([]Figure, error) {
	logw := opts.Log
	if logw == nil {
		logw = io.Discard
	}
	dir, err := os.MkdirTemp("", "canopy-bench-runtime-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	defer testmodules.Cleanup()
	env, err := NewEnv(ctx, dir+"/cache")
	if err != nil {
		return nil, err
	}
	defer env.Close(ctx)
	cwasm, err := testmodules.Get("bench")
	if err != nil {
		return nil, err
	}
	batches, scale := 21, 1
	if opts.Quick {
		batches, scale = 3, 10
	}
	var figs []Figure
	add := func(r Result, unit string, div float64, name, target, note string) {
		figs = append(figs, Figure{Name: name, Value: float64(r.Ours) / div, Baseline: float64(r.Raw) / div,
			Unit: unit, Target: target, Note: note})
		fmt.Fprintf(logw, "%s: canopy %s, raw wazero %s (%.2fx)\n", name, r.Ours, r.Raw, r.Ratio())
	}

	p, err := env.StartPair(ctx, "c", cwasm)
	if err != nil {
		return nil, fmt.Errorf("start pair: %w", err)
	}
	r, err := Measure(ctx, p, 5*batches, 400/scale) // short batches, as for messages
	p.Close()
	if err != nil {
		return nil, err
	}
	add(r, "µs", 1e3, "start C module (instantiate+init)", "<= 1.2x", fmt.Sprintf("%d-byte module, cached compile", len(cwasm)))

	if _, err := exec.LookPath("go"); err == nil && !opts.NoGo {
		gdir, err := os.MkdirTemp(dir, "gotask-")
		if err != nil {
			return nil, err
		}
		fmt.Fprintln(logw, "building the Go task ...")
		gwasm, err := testmodules.BuildGo(gdir)
		if err != nil {
			return nil, err
		}
		p, err := env.StartPair(ctx, "go", gwasm)
		if err != nil {
			return nil, fmt.Errorf("go start pair: %w", err)
		}
		r, err := Measure(ctx, p, batches, 100/scale)
		p.Close()
		if err != nil {
			return nil, err
		}
		add(r, "µs", 1e3, "start Go module (instantiate+init)", "report", fmt.Sprintf("%d-byte Go c-shared module", len(gwasm)))
	} else if !opts.NoGo {
		fmt.Fprintln(logw, "go not on PATH: the Go module start figure is left out")
	}

	payload := make([]byte, 64)
	for k := range payload {
		payload[k] = byte(k)
	}
	p, err = env.MessagePair(ctx, cwasm, "sensors/dev-1/temperature", payload)
	if err != nil {
		return nil, fmt.Errorf("message pair: %w", err)
	}
	// Many short batches: on a loaded machine a batch that is preempted
	// (for milliseconds) is an outlier the median drops; long batches would
	// almost all contain one.
	r, err = Measure(ctx, p, 5*batches, 2000/scale)
	if err != nil {
		p.Close()
		return nil, err
	}
	add(r, "µs", 1e3, "message to canopy_on_message (64 B)", "<= 2µs, <= 1.5x", "median of batch means")
	// Each message timed on its own: the distribution, not just the mean.
	ours, err := Latencies(p.Ours, 200000/scale)
	if err != nil {
		p.Close()
		return nil, err
	}
	raw, err := Latencies(p.Raw, 200000/scale)
	p.Close()
	if err != nil {
		return nil, err
	}
	for _, q := range []float64{50, 99} {
		add(Result{Name: "latency", Ours: Percentile(ours, q), Raw: Percentile(raw, q)}, "µs", 1e3,
			fmt.Sprintf("message latency p%.0f (each timed)", q), map[float64]string{50: "<= 2µs", 99: "report"}[q],
			"includes one clock read")
	}

	p, err = env.LoopPair(ctx, cwasm, LoopIterations/uint32(scale))
	if err != nil {
		return nil, fmt.Errorf("loop pair: %w", err)
	}
	r, err = Measure(ctx, p, batches, 3)
	p.Close()
	if err != nil {
		return nil, err
	}
	add(r, "ms", float64(time.Millisecond), fmt.Sprintf("tight loop, %d iterations", LoopIterations/scale), "<= 1.3x", "CPU budget (instrumented + watchdog) vs unlimited")

	p, err = env.CallsPair(ctx, cwasm, FibN)
	if err != nil {
		return nil, fmt.Errorf("calls pair: %w", err)
	}
	r, err = Measure(ctx, p, batches, max(1, 3/scale))
	p.Close()
	if err != nil {
		return nil, err
	}
	add(r, "ms", float64(time.Millisecond), fmt.Sprintf("recursive calls, fib(%d)", FibN), "report", "instrumented function entries: the worst case")
	return figs, nil
}
