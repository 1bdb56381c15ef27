package main

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"
)

// stuckBroker is an MQTT client whose broker never acknowledges: each
// publish waits until its context ends.
type stuckBroker struct {
	mu    sync.Mutex
	calls int
}

func (b *stuckBroker) Publish(ctx context.Context, _ string, _ []byte, _ byte) error {
	b.mu.Lock()
	b.calls++
	b.mu.Unlock()
	<-ctx.Done()
	return ctx.Err()
}

// TestPublisherCloseBounded: with the broker unreachable, Close does not wait
// a publish timeout for every queued message (4096 of them could hold
// `canopy run --for` for hours): after its flush bound it drops the rest
// without trying them.
func TestPublisherCloseBounded(t *testing.T) {
	b := &stuckBroker{}
	p := newAsyncPublisher(context.Background(), b, 1, 16, slog.New(slog.DiscardHandler))
	p.flush = time.Millisecond
	for range 3 {
		if err := p.Publish(context.Background(), "a", []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	p.Close()
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.calls > 1 { // 0 if the bound passed before the first was taken
		t.Fatalf("the broker was asked for %d publishes, want at most 1 (the rest dropped at the flush bound)", b.calls)
	}
}

// TestPublisherBacklogBoundedInBytes: while the broker does not take them,
// the payloads waiting are bounded in bytes, not only in number.
func TestPublisherBacklogBoundedInBytes(t *testing.T) {
	b := &stuckBroker{}
	p := newAsyncPublisher(context.Background(), b, 1, 4096, slog.New(slog.DiscardHandler))
	p.maxBytes = 1 << 20
	p.flush = time.Millisecond
	defer p.Close()
	accepted := 0
	for range 100 {
		if p.Publish(context.Background(), "a", make([]byte, 64<<10)) == nil {
			accepted++
		}
	}
	if accepted != 16 {
		t.Fatalf("accepted %d payloads of 64KiB, want 16 (1MiB)", accepted)
	}
}
