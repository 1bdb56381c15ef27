package outbox

import (
	"context"
	"fmt"

	"github.com/dgraph-io/badger/v4"

	"github.com/canopy-fleet/canopy/kernel"
)

// Kernel returns the outbox as a kernel.Outbox, the view the mesh reads:
// messages of every destination in append order, with ID the outbox's
// sequence number (strictly increasing for the outbox's life, restarts
// included), Topic the destination and Data the payload; its Epoch is the
// outbox's (see Outbox.Epoch).
func (o *Outbox) Kernel() kernel.Outbox { return kernelOutbox{o} }

type kernelOutbox struct{ o *Outbox }

// Epoch is the outbox's epoch, the same for its directory's life.
func (k kernelOutbox) Epoch() uint64 { return k.o.Epoch() }

// Peek returns up to max of the oldest pending messages over all
// destinations.
func (k kernelOutbox) Peek(ctx context.Context, max int) ([]kernel.OutboxMessage, error) {
	ms, err := k.o.Oldest(ctx, max)
	if err != nil {
		return nil, err
	}
	out := make([]kernel.OutboxMessage, len(ms))
	for i, m := range ms {
		out[i] = kernel.OutboxMessage{ID: m.Seq, Topic: m.Dest, Data: m.Payload}
	}
	return out, nil
}

// Ack removes delivered messages by sequence number.
func (k kernelOutbox) Ack(ctx context.Context, ids ...uint64) error {
	return k.o.AckSeq(ctx, ids...)
}

// Oldest returns up to n of the oldest pending messages over all
// destinations, in append order.
func (o *Outbox) Oldest(ctx context.Context, n int) ([]Message, error) {
	if o.closed() {
		return nil, ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out := []Message{}
	err := o.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{PrefetchValues: true, PrefetchSize: min(n, 256), Prefix: []byte{prefixMsg}})
		defer it.Close()
		for it.Rewind(); it.Valid() && len(out) < n; it.Next() {
			seq := seqOf(it.Item().Key())
			err := it.Item().Value(func(v []byte) error {
				m, err := decode(seq, v)
				out = append(out, m)
				return err
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("outbox oldest: %w", err)
	}
	return out, nil
}

// AckSeq removes delivered messages by sequence number; unknown numbers are
// ignored.
func (o *Outbox) AckSeq(ctx context.Context, seqs ...uint64) error {
	if len(seqs) == 0 {
		return nil
	}
	return o.submit(ctx, &op{ackSeqs: seqs})
}
