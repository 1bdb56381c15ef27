package mesh

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"

	"github.com/canopy-fleet/canopy/kernel"
	"github.com/canopy-fleet/canopy/mesh/backoff"
	"github.com/canopy-fleet/canopy/mesh/frame"
)

const (
	kindOutbox  = "mesh.outbox"
	outboxBatch = 64
)

// OutboxLedger is the root's record, per source node, of how far that
// source's outbox has been delivered: the epoch of the source's outbox
// (kernel.Outbox.Epoch) and the lowest message ID of that epoch not yet
// handed to OnOutbox (or published) and accepted, so every ID below it
// was. The root drops redelivered messages below it, and acknowledges to
// the source only what the ledger holds, so a ledger that survives
// restarts (mesh/ledger keeps one in files) makes a restarted root drop
// what its previous run already delivered. It holds the next ID rather
// than the last one because IDs may start at 0 (devices/outbox's do): 0
// means nothing delivered.
//
// A batch from another epoch than the ledger's means the source's outbox
// was created afresh (a device reinstalled or its data wiped, rejoining
// under the same name): its IDs start again, so the root starts that
// source again from 0, logs it once at info, and Advance replaces the
// record. Within one epoch IDs only grow.
//
// The root calls Load once per source per run, before the first batch from
// that source, and Advance once OnOutbox accepted every message of a batch
// below next, before it acknowledges the batch. Calls for one source never
// overlap; calls for different sources may run concurrently.
//
// Delivery is at least once with dedupe. The one window that repeats
// messages is a crash between OnOutbox accepting a message and Advance
// returning for it: the source never received the acknowledgement, so it
// sends the message again and the restarted root, whose ledger does not
// cover it, delivers it again. That repeats at most the batch in flight
// per source (up to 64 messages), never loses one: the ledger never
// covers an ID that OnOutbox did not accept, and the source drops a
// message only once the root acknowledged it, after Advance. Once OnOutbox
// returns nil the message is its responsibility: the root counts it
// delivered. Two live outboxes under one name (a misconfiguration)
// alternate epochs and each change starts over, so they repeat messages;
// they lose none.
//
// Within one epoch the ledger trusts that IDs only grow. An outbox
// restored from an older copy of its directory keeps its epoch but goes
// back, and the root drops its messages as repeats until their IDs reach
// the ledger; it logs a warning when a whole batch is below it.
type OutboxLedger interface {
	// Load returns the epoch held for source and the lowest ID of that
	// epoch not yet delivered; both are 0 if nothing was.
	Load(source kernel.NodeName) (epoch, next uint64, err error)
	// Advance records that every message of source's outbox epoch with an
	// ID below next was delivered. It is durable when it returns. Within
	// the epoch held an implementation ignores a next below what it holds;
	// another epoch replaces the record. After an error the record holds
	// the old value or the new one, never anything else; the root then
	// refuses the batch, and the source sends it again.
	Advance(source kernel.NodeName, epoch, next uint64) error
}

// errLedger is what a source hears when the root's ledger failed; the
// details (paths, disk errors) stay in the root's log.
var errLedger = errors.New("outbox: the root could not read or record its ledger; retry later")

// outboxBatchMsg is a batch of one outbox's messages: Epoch is the
// outbox's (kernel.Outbox.Epoch), the numbering the IDs belong to.
type outboxBatchMsg struct {
	Epoch uint64
	Msgs  []kernel.OutboxMessage
}

// outboxAck confirms a batch: every ID of the batch's epoch below Next is
// delivered (and in the root's ledger). Next is 0 when nothing is.
type outboxAck struct {
	Next uint64
}

// outboxState is the root's memory of each source's delivery, and the
// sender's wake-up channel.
type outboxState struct {
	mu   sync.Mutex
	src  map[kernel.NodeName]*outboxSource
	kick chan struct{}
}

// outboxSource is what the root knows of one source. Its lock is held for
// a whole batch, so one source's batches are delivered one at a time, in
// order, while other sources' batches go on in parallel.
type outboxSource struct {
	mu      sync.Mutex
	loaded  bool   // epoch, next and durable were read from the ledger
	epoch   uint64 // the epoch next and durable count in
	next    uint64 // lowest ID of epoch OnOutbox has not accepted (this run, or as the ledger says)
	durable uint64 // lowest ID of epoch not in the ledger: what is acknowledged
	warned  bool   // a batch of epoch below the ledger was logged
}

func (o *outboxState) init() {
	o.src = map[kernel.NodeName]*outboxSource{}
	o.kick = make(chan struct{}, 1)
}

func (o *outboxState) source(name kernel.NodeName) *outboxSource {
	o.mu.Lock()
	defer o.mu.Unlock()
	s := o.src[name]
	if s == nil {
		s = &outboxSource{}
		o.src[name] = s
	}
	return s
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
	// A random source of its own: cfg.Rand is the parent loop's, and a
	// *rand.Rand is not safe for concurrent use.
	bo := backoff.Backoff{Min: n.cfg.ReconnectMin, Max: n.cfg.ReconnectMax, Clock: n.cfg.Clock}
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
	b, err := frame.Marshal(outboxBatchMsg{Epoch: n.cfg.Outbox.Epoch(), Msgs: msgs})
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
		if m.ID < ack.Next {
			ids = append(ids, m.ID)
		}
	}
	if err := n.cfg.Outbox.Ack(ctx, ids...); err != nil {
		return fmt.Errorf("outbox ack: %w", err)
	}
	n.counter.OutboxMessages.Add(int64(len(ids)))
	return nil
}

// onOutbox runs at the root: it delivers each message whose ID is not below
// the next expected from that source, in order, records how far it got in the
// ledger, and then confirms that much. A message is handed on only after
// every earlier one was accepted, and acknowledged only once the ledger
// holds it, so a crash at any point repeats messages (the ones accepted
// since the last Advance) but never skips one. A batch of another epoch
// than the source's last starts the source again from ID 0.
func (n *Node) onOutbox(ctx context.Context, from kernel.NodeName, body []byte) ([]byte, error) {
	var batch outboxBatchMsg
	if err := frame.Unmarshal(body, &batch); err != nil {
		return nil, err
	}
	src := n.outbox.source(from)
	src.mu.Lock()
	defer src.mu.Unlock()
	if !src.loaded {
		epoch, next, err := n.cfg.OutboxLedger.Load(from)
		if err != nil {
			n.log.Error("outbox ledger load", "from", string(from), "err", err)
			return nil, errLedger
		}
		src.epoch, src.next, src.durable, src.loaded = epoch, next, next, true
	}
	if batch.Epoch != src.epoch {
		// The source's outbox was created afresh: its IDs start again.
		// Nothing of this epoch is delivered or in the ledger yet; the
		// first Advance replaces the old epoch's record.
		if src.epoch != 0 || src.next != 0 {
			n.log.Info("outbox epoch changed: the source's outbox is new, its IDs start again from 0",
				"from", string(from), "epoch", fmt.Sprintf("%016x", batch.Epoch), "old_epoch", fmt.Sprintf("%016x", src.epoch), "old_next", src.next)
		}
		src.epoch, src.next, src.durable, src.warned = batch.Epoch, 0, 0, false
	}
	// A repeat after a lost ack still holds the unacknowledged message
	// just below the ledger, so a batch wholly below that means the
	// source's IDs went back within one epoch.
	if k := len(batch.Msgs); k > 0 && batch.Msgs[k-1].ID+1 < src.durable && !src.warned {
		src.warned = true
		n.log.Warn("outbox IDs below the ledger in the same epoch: was the source's outbox restored from an older copy? its messages are dropped as repeats until their IDs pass the ledger",
			"from", string(from), "epoch", fmt.Sprintf("%016x", src.epoch), "ledger", src.durable, "batch_last", batch.Msgs[k-1].ID)
	}
	var failed error
	progress := false
	for _, m := range batch.Msgs {
		if m.ID < src.next {
			continue // a repeat after a lost ack, or after a root restart
		}
		if m.ID == math.MaxUint64 {
			failed = errors.New("outbox message ID 2^64-1: no next ID after it")
			break
		}
		var err error
		if n.cfg.OnOutbox != nil {
			err = n.cfg.OnOutbox(from, m)
		} else {
			err = n.publishAs(ctx, from, batch.Epoch, m)
		}
		if err != nil {
			failed = fmt.Errorf("outbox message %d: %w", m.ID, err)
			break
		}
		src.next, progress = m.ID+1, true
		n.counter.OutboxMessages.Add(1)
	}
	if src.next > src.durable {
		// A failure here leaves next ahead of durable: this run still drops
		// the repeats, and the next batch from the source tries again.
		if err := n.cfg.OutboxLedger.Advance(from, src.epoch, src.next); err != nil {
			n.log.Error("outbox ledger advance", "from", string(from), "epoch", fmt.Sprintf("%016x", src.epoch), "next", src.next, "err", err)
			return nil, errLedger
		}
		src.durable = src.next
	}
	if failed != nil && !progress {
		// Nothing new went through: make the source back off and retry.
		return nil, failed
	}
	return frame.Marshal(outboxAck{Next: src.durable})
}

// publishAs publishes an outbox message on the fleet topic at QoS 1, on
// behalf of the node that queued it. Its publication ID names the epoch
// too, so a new epoch's message is not dropped as a repeat of the old
// one's with the same ID.
func (n *Node) publishAs(ctx context.Context, from kernel.NodeName, epoch uint64, m kernel.OutboxMessage) error {
	if err := kernel.ValidateTopicName(m.Topic); err != nil {
		// Retrying cannot fix it: drop it, or it would block the queue forever.
		n.log.Warn("outbox message dropped", "from", string(from), "id", m.ID, "err", err)
		return nil
	}
	return n.deliver(ctx, Message{ID: fmt.Sprintf("%s-outbox-%016x-%d", from, epoch, m.ID), Src: from, Topic: m.Topic, Data: m.Data, QoS: 1}, nil)
}
