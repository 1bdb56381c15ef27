package mesh

import (
	"context"
	"fmt"
	"sync"

	"github.com/canopy-fleet/canopy/kernel"
	"github.com/canopy-fleet/canopy/mesh/backoff"
	"github.com/canopy-fleet/canopy/mesh/frame"
)

const (
	kindOutbox  = "mesh.outbox"
	outboxBatch = 64
)

type outboxBatchMsg struct {
	Msgs []kernel.OutboxMessage
}

type outboxAck struct {
	Upto uint64 // highest ID delivered (now or before)
}

// outboxState is the root's memory of the last ID delivered per source.
type outboxState struct {
	mu   sync.Mutex
	last map[kernel.NodeName]uint64
	kick chan struct{}
}

func (o *outboxState) init() {
	o.last = map[kernel.NodeName]uint64{}
	o.kick = make(chan struct{}, 1)
}

// KickOutbox wakes the outbox delivery loop, e.g. after an append, so the
// message goes out before the next poll.
func (n *Node) KickOutbox() {
	select {
	case n.outbox.kick <- struct{}{}:
	default:
	}
}

// outboxLoop delivers the outbox to the root whenever a parent link is up:
// peek the oldest messages, send them as one request, ack what the root
// confirmed. A lost link or restart only repeats messages the root has not
// confirmed, and the root drops repeats by ID, so delivery is at least once
// on the wire and exactly once in order at the receiver.
func (n *Node) outboxLoop() {
	bo := backoff.Backoff{Min: n.cfg.ReconnectMin, Max: n.cfg.ReconnectMax, Clock: n.cfg.Clock, Rand: n.cfg.Rand}
	for n.ctx.Err() == nil {
		if err := n.WaitParent(n.ctx); err != nil {
			return
		}
		msgs, err := n.cfg.Outbox.Peek(n.ctx, outboxBatch)
		if err != nil {
			n.log.Warn("outbox peek", "err", err)
			if bo.Wait(n.ctx) != nil {
				return
			}
			continue
		}
		if len(msgs) == 0 {
			t := n.cfg.Clock.NewTimer(n.cfg.OutboxPoll)
			select {
			case <-t.C():
			case <-n.outbox.kick:
				t.Stop()
			case <-n.ctx.Done():
				t.Stop()
				return
			}
			continue
		}
		if err := n.sendOutbox(msgs); err != nil {
			n.log.Warn("outbox delivery", "err", err)
			if bo.Wait(n.ctx) != nil {
				return
			}
			continue
		}
		bo.Reset()
	}
}

func (n *Node) sendOutbox(msgs []kernel.OutboxMessage) error {
	b, err := frame.Marshal(outboxBatchMsg{Msgs: msgs})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(n.ctx, n.cfg.RequestTimeout)
	defer cancel()
	resp, err := n.Request(ctx, "", kindOutbox, b)
	if err != nil {
		return err
	}
	var ack outboxAck
	if err := frame.Unmarshal(resp, &ack); err != nil {
		return err
	}
	var ids []uint64
	for _, m := range msgs {
		if m.ID <= ack.Upto {
			ids = append(ids, m.ID)
		}
	}
	if err := n.cfg.Outbox.Ack(ctx, ids...); err != nil {
		return fmt.Errorf("outbox ack: %w", err)
	}
	n.counter.OutboxMessages.Add(int64(len(ids)))
	return nil
}

// onOutbox runs at the root: it delivers each message whose ID is past the
// last delivered from that source, in order, and confirms how far it got.
func (n *Node) onOutbox(ctx context.Context, from kernel.NodeName, body []byte) ([]byte, error) {
	var batch outboxBatchMsg
	if err := frame.Unmarshal(body, &batch); err != nil {
		return nil, err
	}
	n.outbox.mu.Lock()
	defer n.outbox.mu.Unlock() // one batch at a time keeps per-source order
	last := n.outbox.last[from]
	for _, m := range batch.Msgs {
		if m.ID <= last {
			continue // a repeat after a lost ack
		}
		var err error
		if n.cfg.OnOutbox != nil {
			err = n.cfg.OnOutbox(from, m)
		} else {
			err = n.publishAs(ctx, from, m)
		}
		if err != nil {
			break
		}
		last = m.ID
		n.counter.OutboxMessages.Add(1)
	}
	n.outbox.last[from] = last
	return frame.Marshal(outboxAck{Upto: last})
}

// publishAs publishes an outbox message on the fleet topic at QoS 1, on
// behalf of the node that queued it.
func (n *Node) publishAs(ctx context.Context, from kernel.NodeName, m kernel.OutboxMessage) error {
	if err := kernel.ValidateTopicName(m.Topic); err != nil {
		// Retrying cannot fix it: drop it, or it would block the queue forever.
		n.log.Warn("outbox message dropped", "from", string(from), "id", m.ID, "err", err)
		return nil
	}
	return n.deliver(ctx, Message{ID: fmt.Sprintf("%s-outbox-%d", from, m.ID), Src: from, Topic: m.Topic, Data: m.Data, QoS: 1}, nil)
}
