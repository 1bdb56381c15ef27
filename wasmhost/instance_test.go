package wasmhost

import (
	"context"
	"errors"
	"testing"
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
