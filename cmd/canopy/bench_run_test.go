package main

import (
	"context"
	"io"
	"testing"
	"time"
)

// TestBenchRunSmoke runs the end-to-end suite briefly: every figure is
// measured and has its baseline. No timing is asserted.
func TestBenchRunSmoke(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rs, err := runE2EBench(ctx, benchOptions{Quick: true, Log: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 5 {
		t.Fatalf("got %d figures, want 5", len(rs))
	}
	for _, r := range rs {
		if r.Value <= 0 || r.Baseline <= 0 {
			t.Errorf("%s: value %v baseline %v", r.Name, r.Value, r.Baseline)
		}
	}
}
