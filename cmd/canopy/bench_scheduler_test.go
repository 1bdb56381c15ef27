package main

import (
	"context"
	"io"
	"strings"
	"testing"
)

// TestSchedulerBenchSuite runs `canopy bench scheduler --quick` in process
// and checks that every figure is there, measured, and compared with its
// baseline where it has one. It asserts no timing.
func TestSchedulerBenchSuite(t *testing.T) {
	res, err := benchSuites["scheduler"].Run(context.Background(), benchOptions{Quick: true, Log: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{
		"placements/s, 1000 nodes": true, "placements/s, 10000 nodes": true,
		"decision p99, 1000 nodes": true, "decision p99, 10000 nodes": true,
		"explain, 10000 nodes": false, "explain JSON, 10000 nodes": false, "re-decision, 10000 nodes": false,
	}
	got := map[string]benchResult{}
	for _, r := range res {
		got[r.Name] = r
		if r.Value <= 0 || r.Unit == "" {
			t.Errorf("%s: value %v %q", r.Name, r.Value, r.Unit)
		}
	}
	for name, baseline := range want {
		r, ok := got[name]
		if !ok {
			t.Errorf("missing figure %q", name)
			continue
		}
		if baseline && r.Baseline <= 0 {
			t.Errorf("%s: no baseline", name)
		}
	}
	if r := got["placements/s, 10000 nodes"]; r.Target == "" || !strings.Contains(r.Note, "naive") {
		t.Errorf("10k figure names no target or baseline: %+v", r)
	}
	var b strings.Builder
	if err := printBench(&b, "table", res); err != nil || !strings.Contains(b.String(), "placements/s, 10000 nodes") {
		t.Fatalf("table: %v\n%s", err, b.String())
	}
}
