package probe

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"
)

// ReferenceScore is what the reference machine scores.
const ReferenceScore = 1000

// TimedScorer turns a fixed workload into a Scorer: it runs the workload
// runs times (default 5), takes the median duration and scores
// ReferenceScore × reference / median, so a machine twice as fast as the
// reference scores 2000. The median of several short runs is what keeps
// the score stable on a machine doing other work; the caller supplies the
// workload (the command layer runs it in wasmhost, the engine tasks use).
func TimedScorer(workload func(ctx context.Context) error, reference time.Duration, runs int) (Scorer, error) {
	if workload == nil {
		return nil, errors.New("timed scorer: nil workload")
	}
	if reference <= 0 {
		return nil, fmt.Errorf("timed scorer: reference %s must be positive", reference)
	}
	if runs <= 0 {
		runs = 5
	}
	return func(ctx context.Context) (int, error) {
		ds := make([]time.Duration, 0, runs)
		for range runs {
			start := time.Now()
			if err := workload(ctx); err != nil {
				return 0, fmt.Errorf("score workload: %w", err)
			}
			ds = append(ds, time.Since(start))
		}
		slices.Sort(ds)
		return ScoreOf(ds[len(ds)/2], reference), nil
	}, nil
}

// ScoreOf normalises one workload duration against the reference
// machine's duration for the same workload.
func ScoreOf(d, reference time.Duration) int {
	if d <= 0 {
		return 0
	}
	return int(math.Round(ReferenceScore * float64(reference) / float64(d)))
}
