package runtimebench

import (
	"context"
	"fmt"
	"sort"
	"time"
)

// Pair is one figure: the same operation through wasmhost (Ours) and through
// raw wazero (Raw).
type Pair struct {
	Name   string
	Ours   func() error
	Raw    func() error
	closer []func()
}

// Close frees what the pair's setup made.
func (p *Pair) Close() {
	for k := len(p.closer) - 1; k >= 0; k-- {
		p.closer[k]()
	}
}

// Result is a pair's measurement: median time per operation of each side.
type Result struct {
	Name      string
	Ours, Raw time.Duration
}

// Ratio is Ours/Raw.
func (r Result) Ratio() float64 { return float64(r.Ours) / float64(r.Raw) }

// Measure runs batches of ops operations of each side, interleaved, and
// returns the median per-operation time of each. It stops early when ctx is
// done.
func Measure(ctx context.Context, p *Pair, batches, ops int) (Result, error) {
	// Warm up both sides.
	for range min(ops, 100) {
		if err := p.Ours(); err != nil {
			return Result{}, fmt.Errorf("%s (canopy): %w", p.Name, err)
		}
		if err := p.Raw(); err != nil {
			return Result{}, fmt.Errorf("%s (raw): %w", p.Name, err)
		}
	}
	ours := make([]time.Duration, 0, batches)
	raw := make([]time.Duration, 0, batches)
	for b := 0; b < batches && ctx.Err() == nil; b++ {
		d, err := batch(p.Ours, ops)
		if err != nil {
			return Result{}, fmt.Errorf("%s (canopy): %w", p.Name, err)
		}
		ours = append(ours, d)
		if d, err = batch(p.Raw, ops); err != nil {
			return Result{}, fmt.Errorf("%s (raw): %w", p.Name, err)
		}
		raw = append(raw, d)
	}
	if len(ours) == 0 {
		return Result{}, ctx.Err()
	}
	return Result{Name: p.Name, Ours: median(ours), Raw: median(raw)}, nil
}

func batch(op func() error, n int) (time.Duration, error) {
	t0 := time.Now()
	for range n {
		if err := op(); err != nil {
			return 0, err
		}
	}
	return time.Since(t0) / time.Duration(n), nil
}

func median(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(a, b int) bool { return s[a] < s[b] })
	return s[len(s)/2]
}
