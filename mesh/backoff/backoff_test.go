package backoff

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/canopy-fleet/canopy/mesh/clock"
)

func TestDelaysGrowWithJitterAndCap(t *testing.T) {
	b := &Backoff{Min: 100 * time.Millisecond, Max: time.Second, Rand: rand.New(rand.NewPCG(1, 2))}
	caps := []time.Duration{100, 200, 400, 800, 1000, 1000}
	seen := map[time.Duration]bool{}
	for i, c := range caps {
		c *= time.Millisecond
		d := b.Next()
		if d < c/2 || d > c {
			t.Fatalf("delay %d = %v, want in [%v, %v]", i, d, c/2, c)
		}
		seen[d] = true
	}
	if len(seen) < 4 {
		t.Fatalf("delays not jittered: %v", seen)
	}
	b.Reset()
	if d := b.Next(); d > 100*time.Millisecond {
		t.Fatalf("after reset %v", d)
	}
}

func TestWaitOnFakeClockAndCancel(t *testing.T) {
	clk := clock.NewFake(time.Unix(0, 0))
	b := &Backoff{Min: time.Second, Max: time.Second, Clock: clk, Rand: rand.New(rand.NewPCG(1, 2))}
	done := make(chan error, 1)
	go func() { done <- b.Wait(context.Background()) }()
	clk.BlockUntil(1)
	clk.Advance(time.Second)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { done <- b.Wait(ctx) }()
	clk.BlockUntil(1)
	cancel()
	if err := <-done; err != context.Canceled {
		t.Fatalf("got %v, want context.Canceled", err)
	}
}
