package mesh

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/canopy-fleet/canopy/kernel"
	"github.com/canopy-fleet/canopy/mesh/ledger"
)

// shifted numbers an outbox's messages one lower: from 0, as devices/outbox
// does. Its epoch is the wrapped outbox's.
type shifted struct{ kernel.Outbox }

func (o shifted) Peek(ctx context.Context, max int) ([]kernel.OutboxMessage, error) {
	ms, err := o.Outbox.Peek(ctx, max)
	for i := range ms {
		ms[i].ID--
	}
	return ms, err
}

func (o shifted) Ack(ctx context.Context, ids ...uint64) error {
	up := make([]uint64, len(ids))
	for i, id := range ids {
		up[i] = id + 1
	}
	return o.Outbox.Ack(ctx, up...)
}

// epochRecord is what OnOutbox accepted from leaf, in order, across root
// restarts: each message's data, which names the outbox and the message.
type epochRecord struct {
	mu   sync.Mutex
	data []string
	ids  []uint64
}

func (r *epochRecord) onOutbox(from kernel.NodeName, m kernel.OutboxMessage) error {
	if from != "leaf" {
		return fmt.Errorf("message %d from %q, want leaf", m.ID, from)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.data = append(r.data, string(m.Data))
	r.ids = append(r.ids, m.ID)
	return nil
}

func (r *epochRecord) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.data)
}

// check fails unless OnOutbox accepted, in order and once each, messages
// 0 to a-1 of the first outbox ("a0"...) then 0 to b-1 of the second
// ("b0"...), with IDs from 0 in each.
func (r *epochRecord) check(t *testing.T, a, b int) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.data) != a+b {
		t.Fatalf("OnOutbox accepted %d messages, want %d of the old outbox then %d of the new one, once each", len(r.data), a, b)
	}
	for i := range r.data {
		want, id := fmt.Sprint("a", i), uint64(i)
		if i >= a {
			want, id = fmt.Sprint("b", i-a), uint64(i-a)
		}
		if r.data[i] != want || r.ids[i] != id {
			t.Fatalf("message %d accepted is %q with ID %d, want %q with ID %d: lost, repeated or out of order", i, r.data[i], r.ids[i], want, id)
		}
	}
}

// startLoggedRoot starts the controller ctl on listen in tr with its log
// in logs (tr.start would log to the test log only).
func startLoggedRoot(t *testing.T, tr *tree, listen string, led OutboxLedger, rec *epochRecord, logs *syncBuffer) *Node {
	t.Helper()
	cfg := tr.base
	cfg.Name, cfg.Role, cfg.Network, cfg.Listen = "ctl", kernel.RoleController, tr.net("ctl", kernel.RoleController), listen
	cfg.OutboxLedger, cfg.OnOutbox = led, rec.onOutbox
	cfg.Logger = slog.New(slog.NewTextHandler(logs, nil))
	root, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := root.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	tr.nodes["ctl"], tr.addr["ctl"] = root, root.Addr()
	return root
}

// startLeaf starts node leaf under ctl reading ob.
func startLeaf(tr *tree, ob kernel.Outbox) *Node {
	base := tr.base
	defer func() { tr.base = base }()
	tr.base.Outbox = ob
	return tr.start("leaf", kernel.RoleLeaf, "", "ctl")
}

func stopNode(tr *tree, name kernel.NodeName) {
	tr.nodes[name].Close()
	delete(tr.nodes, name)
}

const epochChanged = "outbox epoch changed"

// TestOutboxNewEpochMemnet: a leaf delivers 150 messages (IDs 0-149),
// then is reinstalled under the same name with a new outbox (a new epoch)
// whose IDs start again at 0. Every message of the new outbox reaches
// OnOutbox, once, in order; the root logs the change once.
func TestOutboxNewEpochMemnet(t *testing.T) {
	const a, b = 150, 100
	tr, _ := memTree(t, fastTimers)
	var rec epochRecord
	var logs syncBuffer
	startLoggedRoot(t, tr, "mem:ctl", nil, &rec, &logs)
	old := NewMemOutbox()
	for i := range a {
		old.Append("t/x", []byte(fmt.Sprint("a", i)))
	}
	startLeaf(tr, shifted{old})
	eventually(t, "the old outbox delivered and acknowledged", func() bool { return old.Len() == 0 })
	stopNode(tr, "leaf")

	fresh := NewMemOutbox()
	if fresh.Epoch() == old.Epoch() {
		t.Fatal("two outboxes share an epoch")
	}
	for i := range b / 2 {
		fresh.Append("t/x", []byte(fmt.Sprint("b", i)))
	}
	leaf := startLeaf(tr, shifted{fresh})
	eventually(t, "the new outbox's first messages delivered", func() bool { return fresh.Len() == 0 })
	for i := b / 2; i < b; i++ {
		fresh.Append("t/x", []byte(fmt.Sprint("b", i)))
	}
	leaf.KickOutbox()
	eventually(t, "the new outbox delivered", func() bool { return fresh.Len() == 0 })
	rec.check(t, a, b)
	if k := strings.Count(logs.String(), epochChanged); k != 1 {
		t.Fatalf("the root logged the new epoch %d times, want once:\n%s", k, logs.String())
	}
	if strings.Contains(logs.String(), "below the ledger") {
		t.Fatalf("the new outbox was taken for one gone back:\n%s", logs.String())
	}
}

// TestOutboxNewEpochDurableLedger: as TestOutboxNewEpochMemnet, with the
// ledger on disk and the root restarted twice: once between the old
// outbox and the new one (the ledger then holds the old epoch at 150),
// and once while the acknowledgements of the new outbox's last batch are
// lost, so the leaf sends that batch again to a root that knows it only
// from the ledger: the same epoch dedupes as before. On memnet and on QUIC.
func TestOutboxNewEpochDurableLedger(t *testing.T) {
	t.Run("memnet", func(t *testing.T) {
		tr, _ := memTree(t, fastTimers)
		testOutboxNewEpochDurable(t, tr, "mem:ctl")
	})
	t.Run("quic", func(t *testing.T) {
		timers := fastTimers
		timers.HeartbeatInterval, timers.LostAfter = 200*time.Millisecond, 2*time.Second
		tr, _ := quicTree(t, timers)
		testOutboxNewEpochDurable(t, tr, quicListen("ctl"))
	})
}

func testOutboxNewEpochDurable(t *testing.T, tr *tree, listen string) {
	const a, b, more = 150, 100, 30
	dir := t.TempDir()
	var rec epochRecord
	var logs syncBuffer
	var led *ledger.Ledger
	start := func() {
		var err error
		if led, err = ledger.Open(dir); err != nil {
			t.Fatal(err)
		}
		listen = startLoggedRoot(t, tr, listen, led, &rec, &logs).Addr() // the same address after a restart
	}
	restart := func() {
		stopNode(tr, "ctl")
		if err := led.Close(); err != nil {
			t.Fatal(err)
		}
		start()
	}
	start()
	t.Cleanup(func() { stopNode(tr, "ctl"); led.Close() })

	old := NewMemOutbox()
	for i := range a {
		old.Append("t/x", []byte(fmt.Sprint("a", i)))
	}
	startLeaf(tr, shifted{old})
	eventually(t, "the old outbox delivered and acknowledged", func() bool { return old.Len() == 0 })
	stopNode(tr, "leaf")
	restart()
	if e, next, err := led.Load("leaf"); err != nil || e != old.Epoch() || next != a {
		t.Fatalf("ledger after the old outbox: epoch %x next %d (%v), want %x and %d", e, next, err, old.Epoch(), a)
	}

	// The new outbox: 0-63 acknowledged, 64-99 delivered but their acks lost.
	fresh := &lostAcks{MemOutbox: NewMemOutbox(), lostAfter: outboxBatch}
	for i := range b {
		fresh.Append("t/x", []byte(fmt.Sprint("b", i)))
	}
	leaf := startLeaf(tr, shifted{fresh})
	eventually(t, "the new outbox delivered", func() bool { return rec.count() >= a+b })
	eventually(t, "its first batch acknowledged", func() bool { return fresh.Len() == b-outboxBatch })
	time.Sleep(100 * time.Millisecond) // the leaf sends its second batch again; the root drops it
	restart()
	if e, next, err := led.Load("leaf"); err != nil || e != fresh.Epoch() || next != b {
		t.Fatalf("ledger after the new outbox: epoch %x next %d (%v), want %x and %d", e, next, err, fresh.Epoch(), b)
	}
	fresh.release()
	for i := b; i < b+more; i++ {
		fresh.Append("t/x", []byte(fmt.Sprint("b", i)))
	}
	leaf.KickOutbox()
	eventually(t, "the new outbox drained", func() bool { return fresh.Len() == 0 })
	rec.check(t, a, b+more)
	if k := strings.Count(logs.String(), epochChanged); k != 1 {
		t.Fatalf("the root logged the new epoch %d times, want once (the restarted root read it from the ledger):\n%s", k, logs.String())
	}
}

// TestOutboxNewEpochPublished: without OnOutbox the root publishes outbox
// messages, each under a publication ID; the new outbox's message 0 is not
// taken for a repeat of the old one's message 0 by the root's dedupe of
// publications.
func TestOutboxNewEpochPublished(t *testing.T) {
	tr, _ := memTree(t, fastTimers)
	root := tr.start("ctl", kernel.RoleController, "mem:ctl")
	var mu sync.Mutex
	var got []string
	cancel, err := root.Subscribe("t/#", func(m Message) {
		mu.Lock()
		got = append(got, string(m.Data))
		mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	defer cancel()
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(got) }
	old := NewMemOutbox()
	old.Append("t/x", []byte("a0"))
	old.Append("t/x", []byte("a1"))
	startLeaf(tr, shifted{old})
	eventually(t, "the old outbox published", func() bool { return count() == 2 && old.Len() == 0 })
	stopNode(tr, "leaf")
	fresh := NewMemOutbox()
	fresh.Append("t/x", []byte("b0"))
	fresh.Append("t/x", []byte("b1"))
	fresh.Append("t/x", []byte("b2"))
	startLeaf(tr, shifted{fresh})
	eventually(t, "the new outbox acknowledged", func() bool { return fresh.Len() == 0 })
	eventually(t, "the new outbox published", func() bool { return count() == 5 })
	mu.Lock()
	defer mu.Unlock()
	if s := strings.Join(got, ","); s != "a0,a1,b0,b1,b2" {
		t.Fatalf("published %s, want a0,a1,b0,b1,b2", s)
	}
}
