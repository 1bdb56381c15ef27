package broker_test

import (
	"runtime/debug"
	"testing"

	"github.com/canopy-fleet/canopy/devices/broker"
)

// gcPercent reads the process's GC target.
func gcPercent() int {
	p := debug.SetGCPercent(100)
	debug.SetGCPercent(p)
	return p
}

// withGC runs the test from GC target pct, GOGC unset, and restores both.
func withGC(t *testing.T, pct int) {
	t.Setenv("GOGC", "")
	prev := debug.SetGCPercent(pct)
	t.Cleanup(func() { debug.SetGCPercent(prev) })
}

// The GC target is raised while brokers run and put back when the last
// one closes.
func TestGCTargetRaisedWhileRunning(t *testing.T) {
	withGC(t, 100)
	a := start(t, broker.Config{})
	if got := gcPercent(); got != broker.DefaultGCPercent {
		t.Fatalf("running: GC percent %d, want %d", got, broker.DefaultGCPercent)
	}
	b := start(t, broker.Config{})
	a.Close()
	if got := gcPercent(); got != broker.DefaultGCPercent {
		t.Fatalf("one of two closed: GC percent %d, want %d", got, broker.DefaultGCPercent)
	}
	b.Close()
	if got := gcPercent(); got != 100 {
		t.Fatalf("closed: GC percent %d, want 100 back", got)
	}
}

// A negative GCPercent, GOGC in the environment, or a higher target already
// set leave the collector alone.
func TestGCTargetLeftAlone(t *testing.T) {
	for _, c := range []struct {
		name      string
		cfg       broker.Config
		env       string
		from, use int
	}{
		{"negative", broker.Config{GCPercent: -1}, "", 100, 100},
		{"GOGC set", broker.Config{}, "150", 100, 100},
		{"higher", broker.Config{}, "", 800, 800},
		{"off", broker.Config{}, "", -1, -1},
		{"explicit", broker.Config{GCPercent: 250}, "", 100, 250},
	} {
		t.Run(c.name, func(t *testing.T) {
			withGC(t, c.from)
			t.Setenv("GOGC", c.env)
			b := start(t, c.cfg)
			if got := gcPercent(); got != c.use {
				t.Fatalf("running: GC percent %d, want %d", got, c.use)
			}
			b.Close()
			if got := gcPercent(); got != c.from {
				t.Fatalf("closed: GC percent %d, want %d", got, c.from)
			}
		})
	}
}
