package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/canopy-fleet/canopy/devices/probe"
	"github.com/canopy-fleet/canopy/wasmhost"
)

// The scorer the agent hands to the probe measures on the node's Host and
// logs the figures.
func TestScorer(t *testing.T) {
	ctx := context.Background()
	h, err := wasmhost.New(ctx, wasmhost.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close(ctx)
	var logs bytes.Buffer
	var s probe.Scorer = newScorer(h, slog.New(slog.NewTextHandler(&logs, nil)))
	got, err := s(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got <= 0 {
		t.Errorf("score %d, want > 0", got)
	}
	for _, want := range []string{"component=score", "wasm benchmark score", "int=", "float=", "mem="} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log %q lacks %q", logs.String(), want)
		}
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s(cancelled); err == nil {
		t.Error("a cancelled scorer returned no error")
	}
}

// TestBenchScoreSmoke runs the score suite briefly: every figure is
// measured, the comparisons have their baselines. No timing is asserted.
func TestBenchScoreSmoke(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rs, err := runScoreBench(ctx, benchOptions{Quick: true, Log: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 8 {
		t.Fatalf("got %d figures, want 8: %+v", len(rs), rs)
	}
	for _, r := range rs {
		if r.Value < 0 || (r.Value == 0 && r.Unit != "%") {
			t.Errorf("%s: value %v", r.Name, r.Value)
		}
		if (r.Unit == "points" || r.Unit == "µs") && r.Baseline <= 0 {
			t.Errorf("%s: no baseline", r.Name)
		}
	}
}
