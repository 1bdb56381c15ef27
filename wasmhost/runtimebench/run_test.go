package runtimebench

import (
	"context"
	"testing"
)

// TestRunQuick runs the suite once with few iterations: every figure is
// produced and positive. Figures themselves are never asserted. (The Go
// module figure is left out: wasmhost's TestGoTask runs a Go task, and
// compiling one under -race takes ~15s.)
func TestRunQuick(t *testing.T) {
	figs, err := Run(context.Background(), Options{Quick: true, NoGo: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(figs) < 6 {
		t.Fatalf("%d figures", len(figs))
	}
	for _, f := range figs {
		if f.Value <= 0 || f.Baseline <= 0 {
			t.Errorf("figure %+v", f)
		}
		t.Logf("%s: %.3g %s (raw %.3g)", f.Name, f.Value, f.Unit, f.Baseline)
	}
}
