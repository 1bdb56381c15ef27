package mesh

import (
	"sync"

	"github.com/canopy-fleet/canopy/kernel"
)

// OutboxLedger is the root's record, per source node, of the highest
// outbox message ID it has handed to OnOutbox (or published) and that
// OnOutbox accepted. The root dedupes redelivered messages against it, and
// acknowledges to the source only what the ledger holds, so a ledger that
// survives restarts (mesh/ledger keeps one in files) makes a restarted
// root drop what its previous run already delivered.
//
// The root calls Load once per source per run, before the first batch from
// that source, and Advance after OnOutbox accepted every message of a
// batch up to and including upto, before it acknowledges the batch. Calls
// for one source never overlap; calls for different sources may run
// concurrently.
//
// Delivery is at least once with dedupe. The one window that repeats
// messages is a crash between OnOutbox accepting a message and Advance
// returning for it: the source never received the acknowledgement, so it
// sends the message again and the restarted root, whose ledger does not
// cover it, delivers it again. That repeats at most the batch in flight
// per source (up to 64 messages), never loses one: the ledger never
// claims an ID that OnOutbox did not accept, and the source drops a
// message only once the root acknowledged it, after Advance.
type OutboxLedger interface {
	// Load returns the highest ID delivered from source, 0 if none.
	Load(source kernel.NodeName) (uint64, error)
	// Advance records that every message from source up to and including
	// upto was delivered. It is durable when it returns; an implementation
	// ignores an upto below what it holds. An error leaves the record as
	// it was (the root then refuses the batch, and the source retries).
	Advance(source kernel.NodeName, upto uint64) error
}

// MemOutboxLedger is an OutboxLedger in memory, the default: a restarted
// root forgets it, so a source's unacknowledged batch is delivered again
// after a root restart. Safe for concurrent use.
type MemOutboxLedger struct {
	mu   sync.Mutex
	last map[kernel.NodeName]uint64
}

// NewMemOutboxLedger returns an empty ledger.
func NewMemOutboxLedger() *MemOutboxLedger {
	return &MemOutboxLedger{last: map[kernel.NodeName]uint64{}}
}

// Load returns the highest ID recorded for source.
func (l *MemOutboxLedger) Load(source kernel.NodeName) (uint64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.last[source], nil
}

// Advance records upto for source if it is higher than what is held.
func (l *MemOutboxLedger) Advance(source kernel.NodeName, upto uint64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if upto > l.last[source] {
		l.last[source] = upto
	}
	return nil
}
