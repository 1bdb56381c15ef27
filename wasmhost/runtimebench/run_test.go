package runtimebench

import (
	"context"
	"testing"
)

// TestRunQuick runs the whole suite once with few iterations: every figure
// is produced and positive. Figures themselves are never asserted.
func TestRunQuick(t *testing.T) {
	figs, err := Run(context.Background(), Options{Quick: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(figs) < 3 {
		t.Fatalf("%d figures", len(figs))
	}
	for _, f := range figs {
		if f.Value <= 0 || f.Baseline <= 0 {
			t.Errorf("figure %+v", f)
		}
		t.Logf("%s: %.3g %s (raw %.3g)", f.Name, f.Value, f.Unit, f.Baseline)
	}
}
