// Package backoff is the reconnect schedule: exponential delays with full
// jitter, on an injected clock and random source, that stop when the
// context is cancelled.
package backoff

import (
	"context"
	"math/rand/v2"
	"time"

	"github.com/canopy-fleet/canopy/mesh/clock"
)

// Backoff computes and waits out retry delays. Zero Min means 50ms, zero
// Max means 5s; nil Clock is the real clock; nil Rand is a random source
// seeded from the runtime. Not safe for concurrent use: one per retry loop.
type Backoff struct {
	Min, Max time.Duration
	Clock    clock.Clock
	Rand     *rand.Rand
	n        int
}

// Next returns the next delay: a uniform draw in [d/2, d] where d doubles
// from Min up to Max with each failure.
func (b *Backoff) Next() time.Duration {
	lo, hi := b.Min, b.Max
	if lo <= 0 {
		lo = 50 * time.Millisecond
	}
	if hi <= 0 {
		hi = 5 * time.Second
	}
	d := lo
	for i := 0; i < b.n && d < hi; i++ {
		d *= 2
	}
	d = min(d, hi)
	b.n++
	r := b.Rand
	if r == nil {
		r = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
		b.Rand = r
	}
	return d/2 + time.Duration(r.Int64N(int64(d/2)+1))
}

// Wait sleeps the next delay or until ctx is done, returning ctx.Err() then.
func (b *Backoff) Wait(ctx context.Context) error {
	t := clock.Or(b.Clock).NewTimer(b.Next())
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C():
		return nil
	}
}

// Reset starts the schedule over after a success.
func (b *Backoff) Reset() { b.n = 0 }
