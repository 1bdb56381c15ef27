package probe

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestScoreOf(t *testing.T) {
	for _, c := range []struct {
		d, ref time.Duration
		want   int
	}{
		{100 * time.Millisecond, 100 * time.Millisecond, 1000},
		{50 * time.Millisecond, 100 * time.Millisecond, 2000},
		{400 * time.Millisecond, 100 * time.Millisecond, 250},
		{0, time.Second, 0},
	} {
		if got := ScoreOf(c.d, c.ref); got != c.want {
			t.Errorf("ScoreOf(%s, %s) = %d, want %d", c.d, c.ref, got, c.want)
		}
	}
}

// A real CPU-bound workload scored against its own first timing lands near
// the reference score; the median keeps one slow run from moving it.
func TestTimedScorer(t *testing.T) {
	work := func(ctx context.Context) error {
		x := uint64(1)
		for i := range 2_000_000 {
			x = x*6364136223846793005 + uint64(i)
		}
		if x == 42 {
			return errors.New("unlikely")
		}
		return ctx.Err()
	}
	start := time.Now()
	if err := work(context.Background()); err != nil {
		t.Fatal(err)
	}
	ref := time.Since(start)
	s, err := TimedScorer(work, ref, 5)
	if err != nil {
		t.Fatal(err)
	}
	score, err := s(context.Background())
	if err != nil || score <= 0 {
		t.Fatalf("score %d, %v", score, err)
	}
	t.Logf("score %d against its own reference (1000 = same speed)", score)
	boom := errors.New("engine missing")
	s, _ = TimedScorer(func(context.Context) error { return boom }, time.Second, 3)
	if _, err := s(context.Background()); !errors.Is(err, boom) {
		t.Fatalf("workload error: %v", err)
	}
	if _, err := TimedScorer(nil, time.Second, 1); err == nil {
		t.Fatal("nil workload accepted")
	}
	if _, err := TimedScorer(work, 0, 1); err == nil {
		t.Fatal("zero reference accepted")
	}
}
