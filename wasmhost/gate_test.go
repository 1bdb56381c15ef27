package wasmhost

import (
	"context"
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
