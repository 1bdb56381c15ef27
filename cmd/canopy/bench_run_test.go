package main

import (
	"context"
	"encoding/binary"
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

// TestEchoLatencyIgnoresProbes: a late answer to awaitEcho's 8-byte probe is
// not counted as a measured echo (its zero timestamp would be an answer
// 56 years old, and one answer too many).
func TestEchoLatencyIgnoresProbes(t *testing.T) {
	now := time.Now()
	if _, ok := echoLatency(make([]byte, 8), now); ok {
		t.Fatal("an 8-byte probe counted as an echo")
	}
	p := make([]byte, echoPayload)
	binary.LittleEndian.PutUint64(p, uint64(now.Add(-time.Millisecond).UnixNano()))
	if d, ok := echoLatency(p, now); !ok || d != time.Millisecond {
		t.Fatalf("echoLatency = %s, %v; want 1ms", d, ok)
	}
}
