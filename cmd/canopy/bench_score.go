package main

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/tetratelabs/wazero"

	"github.com/canopy-fleet/canopy/wasmhost"
	"github.com/canopy-fleet/canopy/wasmhost/score"
)

func init() {
	registerBenchSuite(benchSuite{
		Name:  "score",
		Short: "the wasm benchmark score (1000 = reference machine): spread over repeated runs, run time, raw wazero compiler and interpreter for comparison",
		Run:   runScoreBench,
	})
}

// scoreRuns is how many times the score suite measures the score.
const scoreRuns = 10

// runScoreBench runs the score repeatedly through wasmhost, interleaved
// with the same measurement on bare wazero (its default engine: the
// compiler on amd64 and arm64) as the baseline, and a few times on wazero's
// interpreter.
func runScoreBench(ctx context.Context, opts benchOptions) ([]benchResult, error) {
	runs, interpRuns := scoreRuns, 3
	if opts.Quick {
		runs, interpRuns = 2, 1
	}
	h, err := wasmhost.New(ctx, wasmhost.Config{})
	if err != nil {
		return nil, err
	}
	defer h.Close(ctx)
	var ours, raw []score.Result
	var walls []time.Duration // each run of the scorer: load, instantiate, measure
	for k := range runs {
		t0 := time.Now()
		r, err := score.Run(ctx, h, score.Config{})
		if err != nil {
			return nil, err
		}
		walls = append(walls, time.Since(t0))
		ours = append(ours, r)
		if r, err = score.RunWazero(ctx, wazero.NewRuntimeConfig(), score.Config{}); err != nil {
			return nil, fmt.Errorf("raw wazero: %w", err)
		}
		raw = append(raw, r)
		scoreLogf(opts, "run %d: score %d (%s), raw wazero %d\n", k+1, ours[k].Score, walls[k].Round(time.Millisecond), r.Score)
	}
	var interp []score.Result
	for range interpRuns {
		r, err := score.RunWazero(ctx, wazero.NewRuntimeConfigInterpreter(), score.Config{})
		if err != nil {
			return nil, fmt.Errorf("interpreter: %w", err)
		}
		interp = append(interp, r)
		scoreLogf(opts, "interpreter: score %d\n", r.Score)
	}

	scores := sortedScores(ours)
	med, lo, hi := scores[len(scores)/2], scores[0], scores[len(scores)-1]
	spread := 100 * float64(hi-lo) / 2 / float64(med)
	rawMed := sortedScores(raw)[len(raw)/2]
	out := []benchResult{
		{Name: fmt.Sprintf("wasm score, median of %d runs", runs), Value: float64(med), Unit: "points",
			Baseline: float64(rawMed), Target: "1000 on the reference machine",
			Note: fmt.Sprintf("min %d, max %d; baseline: bare wazero, default engine (the compiler where wazero has one), no CPU-budget instrumentation", lo, hi)},
		{Name: "score spread, (max-min)/2 of median", Value: spread, Unit: "%", Target: "<= 10%",
			Note: fmt.Sprintf("%d runs, each its own load, instantiate and measurement", runs)},
		{Name: "score run time, first run (compiles)", Value: scoreMillis(walls[0]), Unit: "ms", Target: "< 1000 ms",
			Note: "load (validate, instrument, compile) + instantiate + measure"},
	}
	if runs > 1 {
		later := slices.Clone(walls[1:])
		slices.Sort(later)
		out = append(out, benchResult{Name: "score run time, later runs (cached), max", Value: scoreMillis(later[len(later)-1]), Unit: "ms",
			Target: "< 1000 ms", Note: fmt.Sprintf("median %.0f ms", scoreMillis(later[len(later)/2]))})
	}
	for k := range ours[0].Kernels {
		o, r := kernelMedian(ours, k), kernelMedian(raw, k)
		out = append(out, benchResult{Name: fmt.Sprintf("kernel %s, time per iteration", ours[0].Kernels[k].Name),
			Value: float64(o) / 1e3, Unit: "µs", Baseline: float64(r) / 1e3, Target: "report",
			Note: fmt.Sprintf("median over runs of each run's median; %d iterations per round", ours[0].Kernels[k].Iterations)})
	}
	out = append(out, benchResult{Name: "wasm score on wazero's interpreter", Value: float64(sortedScores(interp)[len(interp)/2]),
		Unit: "points", Baseline: float64(med), Target: "report",
		Note: "baseline: the score through wasmhost (compiler); what a device without a wazero compiler would score"})
	return out, nil
}

func sortedScores(rs []score.Result) []int {
	s := make([]int, len(rs))
	for i, r := range rs {
		s[i] = r.Score
	}
	slices.Sort(s)
	return s
}

// kernelMedian is the median over runs of kernel k's time per iteration.
func kernelMedian(rs []score.Result, k int) time.Duration {
	s := make([]time.Duration, len(rs))
	for i, r := range rs {
		s[i] = r.Kernels[k].PerIter
	}
	slices.Sort(s)
	return s[len(s)/2]
}

func scoreMillis(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func scoreLogf(opts benchOptions, format string, args ...any) {
	if opts.Log != nil {
		fmt.Fprintf(opts.Log, format, args...)
	}
}
