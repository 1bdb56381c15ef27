package wasmhost

import (
	"context"
	"errors"
	"testing"

	"github.com/canopy-fleet/canopy/kernel"
	"github.com/canopy-fleet/canopy/wasmhost/testmodules"
)

func TestEchoPublishes(t *testing.T) {
	h := newHost(t)
	pub := &published{}
	i := start(t, h, "guest", TaskConfig{Publish: []string{"echo/#"}, Publisher: pub})
	ctx := context.Background()
	for _, p := range []string{"a", "hello world", string(make([]byte, 1000))} {
		if err := i.OnMessage(ctx, "echo", []byte(p)); err != nil {
			t.Fatalf("OnMessage(%d bytes): %v", len(p), err)
		}
	}
	got := pub.all()
	if len(got) != 3 || got[0] != "echo/out a" || got[1] != "echo/out hello world" {
		t.Fatalf("published %q", got)
	}
	if s := i.Stats(); s.Messages != 3 || s.HandlerErrors != 0 || s.MemoryPeak == 0 {
		t.Fatalf("stats %+v", s)
	}
}

func TestHandlerErrorIsNotFatal(t *testing.T) {
	h := newHost(t)
	i := start(t, h, "guest", TaskConfig{})
	ctx := context.Background()
	err := i.OnMessage(ctx, "fail", nil)
	var he *HandlerError
	if !errors.As(err, &he) || he.Code != 7 || IsFatal(err) {
		t.Fatalf("got %v, want a non-fatal handler error with code 7", err)
	}
	if err := i.OnMessage(ctx, "noop", []byte("x")); err != nil {
		t.Fatalf("after a handler error: %v", err)
	}
	if s := i.Stats(); s.Messages != 2 || s.HandlerErrors != 1 {
		t.Fatalf("stats %+v", s)
	}
}

// TestGoTask: a Go c-shared module (the Go runtime inside) starts, takes
// messages and counts them, under the default limits.
func TestGoTask(t *testing.T) {
	wasm, err := testmodules.BuildGo(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	h := newHost(t)
	m, err := h.Load(context.Background(), wasm)
	if err != nil {
		t.Fatal(err)
	}
	i, err := h.Instantiate(context.Background(), m, TaskConfig{ID: "go"})
	if err != nil {
		t.Fatal(err)
	}
	defer i.Close(context.Background())
	for k := range 100 {
		if err := i.OnMessage(context.Background(), "t", make([]byte, k*100)); err != nil {
			t.Fatalf("message %d: %v", k, err)
		}
	}
	if s := i.Stats(); s.Messages != 100 || s.MemoryPeak < kernel.MiB {
		t.Fatalf("stats %+v", s)
	}
}

// TestReusedSlotsKeepLogsApart: a closed instance's stdout slot, reused by
// the next instance, writes to the new task's logger only.
func TestReusedSlotsKeepLogsApart(t *testing.T) {
	h := newHost(t)
	ctx := context.Background()
	logsA, logsB := &logLines{}, &logLines{}
	a := start(t, h, "guest", TaskConfig{ID: "a", Logger: slogger(logsA)})
	if err := a.OnMessage(ctx, "print", []byte("from a")); err != nil {
		t.Fatal(err)
	}
	slot := a.slot
	a.Close(ctx)
	b := start(t, h, "guest", TaskConfig{ID: "b", Logger: slogger(logsB)})
	if b.slot != slot {
		t.Fatal("slot not reused")
	}
	if err := b.OnMessage(ctx, "print", []byte("from b")); err != nil {
		t.Fatal(err)
	}
	if logsA.count("hello from") != 1 || logsB.count("hello from b") != 1 || logsA.count("from b") != 0 {
		t.Fatalf("a: %q, b: %q", logsA.lines, logsB.lines)
	}
}
