package wasmhost

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/canopy-fleet/canopy/kernel"
)

// TestGateNoSpuriousInterrupts: short calls, with idle gaps longer than the
// timeout (the watchdog then raises the flag at an idle instance), are never
// interrupted, and a loop still is. The timeout is 100ms, not less: on a
// busy machine a thread can be descheduled in the middle of a call for
// tens of milliseconds, and that call would rightly time out.
func TestGateNoSpuriousInterrupts(t *testing.T) {
	ctx := context.Background()
	h, err := New(ctx, Config{WatchdogInterval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close(ctx)
	m, err := h.Load(ctx, module(t, "guest"))
	if err != nil {
		t.Fatal(err)
	}
	i, err := h.Instantiate(ctx, m, TaskConfig{ID: "gate", Limits: kernel.Limits{CallTimeout: kernel.Duration(100 * time.Millisecond)}})
	if err != nil {
		t.Fatal(err)
	}
	defer i.Close(ctx)
	deadline := time.Now().Add(time.Second)
	for n := 0; time.Now().Before(deadline); n++ {
		if err := i.OnMessage(ctx, "noop", []byte("x")); err != nil {
			t.Fatalf("message %d: %v", n, err)
		}
		if n%500 == 0 {
			time.Sleep(110 * time.Millisecond) // idle past the timeout
		}
	}
	if err := i.OnMessage(ctx, "loop", nil); err == nil || err.Error() != "call timeout 100ms exceeded" {
		t.Fatalf("loop: %v", err)
	}
}

// TestStopFromAnotherGoroutine: Stop interrupts a running call and refuses
// later ones.
func TestStopFromAnotherGoroutine(t *testing.T) {
	h := newHost(t)
	i := start(t, h, "guest", TaskConfig{Limits: kernel.Limits{CallTimeout: kernel.Duration(time.Minute)}})
	go func() {
		time.Sleep(20 * time.Millisecond)
		i.Stop()
	}()
	if err := i.OnMessage(context.Background(), "loop", nil); err != ErrStopped {
		t.Fatalf("interrupted call: %v", err)
	}
	if err := i.OnMessage(context.Background(), "noop", nil); err != ErrStopped {
		t.Fatalf("call after Stop: %v", err)
	}
}

type nopFlag struct{ raised int }

func (f *nopFlag) Raise() { f.raised++ }
func (f *nopFlag) Reset() {}

// TestWatchdogMissLeavesNothingPending: when the watchdog aims at a call
// that has since been replaced by a newer one, it neither raises nor leaves
// pending set (a running call with pending set has every sleep cut short).
func TestWatchdogMissLeavesNothingPending(t *testing.T) {
	var epoch atomic.Uint64
	g := newCallGuard(&epoch, time.Second)
	f := &nopFlag{}
	g.flag = f
	g.begun.Store(5) // a call began in epoch 5
	g.stopIfBegun(stopTimeout, 4)
	if f.raised != 0 || g.pending.Load() {
		t.Fatalf("raised %d, pending %v: want neither", f.raised, g.pending.Load())
	}
	g.stopAll() // Stop's pending stays
	g.stopIfBegun(stopTimeout, 4)
	if !g.pending.Load() {
		t.Fatal("Stop's pending was cleared")
	}
}
