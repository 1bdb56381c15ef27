package main

import (
	"context"
	"log/slog"

	"github.com/canopy-fleet/canopy/devices/probe"
	"github.com/canopy-fleet/canopy/wasmhost"
	"github.com/canopy-fleet/canopy/wasmhost/score"
)

// newScorer returns the probe.Scorer of a node: the wasm benchmark score
// (package wasmhost/score) measured on h, the engine the node's tasks run
// in. devices/probe may not import wasmhost, so the agent wires it here.
// A nil log discards.
func newScorer(h *wasmhost.Host, log *slog.Logger) probe.Scorer {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "score")
	return func(ctx context.Context) (int, error) {
		r, err := score.Run(ctx, h, score.Config{})
		if err != nil {
			return 0, err
		}
		args := []any{"score", r.Score, "elapsed", r.Elapsed}
		for _, k := range r.Kernels {
			args = append(args, k.Name, k.Score)
		}
		log.Info("wasm benchmark score", args...)
		return r.Score, nil
	}
}
