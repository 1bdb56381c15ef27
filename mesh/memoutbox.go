package mesh

import (
	"context"
	"math/rand/v2"
	"sync"

	"github.com/canopy-fleet/canopy/kernel"
)

// MemOutbox is a kernel.Outbox in memory: for tests and simulated leaves.
// It keeps messages in append order with increasing IDs from 1. Each one
// is an epoch of its own: a new MemOutbox under the same node name is an
// outbox created afresh. Safe for concurrent use.
type MemOutbox struct {
	epoch uint64
	mu    sync.Mutex
	next  uint64
	msgs  []kernel.OutboxMessage
}

// NewMemOutbox returns an empty outbox with a random epoch.
func NewMemOutbox() *MemOutbox {
	var e uint64
	for e == 0 {
		e = rand.Uint64()
	}
	return &MemOutbox{epoch: e}
}

// Epoch is the outbox's random epoch, never 0.
func (o *MemOutbox) Epoch() uint64 { return o.epoch }

// Append queues a message and returns its ID.
func (o *MemOutbox) Append(topic string, data []byte) uint64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.next++
	o.msgs = append(o.msgs, kernel.OutboxMessage{ID: o.next, Topic: topic, Data: data})
	return o.next
}

// Peek returns up to max of the oldest messages.
func (o *MemOutbox) Peek(_ context.Context, max int) ([]kernel.OutboxMessage, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	n := min(max, len(o.msgs))
	return append([]kernel.OutboxMessage(nil), o.msgs[:n]...), nil
}

// Ack removes messages by ID.
func (o *MemOutbox) Ack(_ context.Context, ids ...uint64) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	drop := make(map[uint64]bool, len(ids))
	for _, id := range ids {
		drop[id] = true
	}
	kept := o.msgs[:0]
	for _, m := range o.msgs {
		if !drop[m.ID] {
			kept = append(kept, m)
		}
	}
	o.msgs = kept
	return nil
}

// Len is the number of queued messages.
func (o *MemOutbox) Len() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.msgs)
}

// MemOutboxLedger is an OutboxLedger in memory, the default: a restarted
// root forgets it, so a source's unacknowledged batch is delivered again
// after a root restart. Safe for concurrent use.
type MemOutboxLedger struct {
	mu  sync.Mutex
	pos map[kernel.NodeName]memLedgerPos
}

type memLedgerPos struct{ epoch, next uint64 }

// NewMemOutboxLedger returns an empty ledger.
func NewMemOutboxLedger() *MemOutboxLedger {
	return &MemOutboxLedger{pos: map[kernel.NodeName]memLedgerPos{}}
}

// Load returns the epoch and next ID recorded for source, 0 and 0 if none.
func (l *MemOutboxLedger) Load(source kernel.NodeName) (epoch, next uint64, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	p := l.pos[source]
	return p.epoch, p.next, nil
}

// Advance records (epoch, next) for source if epoch is not the one held,
// or next is higher than what is held.
func (l *MemOutboxLedger) Advance(source kernel.NodeName, epoch, next uint64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if p := l.pos[source]; epoch != p.epoch || next > p.next {
		l.pos[source] = memLedgerPos{epoch, next}
	}
	return nil
}
