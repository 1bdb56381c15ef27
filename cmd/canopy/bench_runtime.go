package main

import (
	"context"

	"github.com/canopy-fleet/canopy/wasmhost/runtimebench"
)

func init() {
	registerBenchSuite(benchSuite{
		Name:  "runtime",
		Short: "task runtime vs raw wazero in the same run: start of a cached module (C and Go), message delivery (64 B), CPU-budget overhead on a tight loop",
		Run:   runRuntimeBench,
	})
}

// runRuntimeBench reports wasmhost/runtimebench's figures: medians of
// interleaved batches, each with raw wazero as the baseline.
func runRuntimeBench(ctx context.Context, opts benchOptions) ([]benchResult, error) {
	figs, err := runtimebench.Run(ctx, runtimebench.Options{Quick: opts.Quick, Log: opts.Log})
	if err != nil {
		return nil, err
	}
	out := make([]benchResult, 0, len(figs))
	for _, f := range figs {
		out = append(out, benchResult{
			Name: f.Name, Value: f.Value, Unit: f.Unit, Baseline: f.Baseline,
			Target: f.Target, Note: f.Note,
		})
	}
	return out, nil
}
