package mesh

import (
	"runtime/debug"
	"testing"
)

// A parent runs at ParentGCPercent unless GOGC chose a target.
func TestTuneGCForParent(t *testing.T) {
	prev := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(prev) })
	t.Setenv("GOGC", "")
	if got := TuneGCForParent(); got != "50" {
		t.Errorf("target %q, want 50", got)
	}
	if got := debug.SetGCPercent(100); got != ParentGCPercent {
		t.Errorf("GC percent %d, want %d", got, ParentGCPercent)
	}
	t.Setenv("GOGC", "200")
	if got := TuneGCForParent(); got != "200" {
		t.Errorf("with GOGC=200: target %q", got)
	}
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("with GOGC=200: GC percent changed to %d", got)
	}
}
