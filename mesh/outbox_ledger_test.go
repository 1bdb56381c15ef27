package mesh

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/canopy-fleet/canopy/kernel"
	"github.com/canopy-fleet/canopy/mesh/ledger"
)

// Both implementations satisfy the interface.
var (
	_ OutboxLedger = (*MemOutboxLedger)(nil)
	_ OutboxLedger = (*ledger.Ledger)(nil)
)

// lostAcks is an outbox whose acknowledgements of IDs past lostAfter fail
// until released, as if the root's acks for them were lost: the leaf keeps
// sending its oldest batch (the one holding lostAfter+1) again.
type lostAcks struct {
	*MemOutbox
	mu        sync.Mutex
	lostAfter uint64 // 0: released
}

func (o *lostAcks) Ack(ctx context.Context, ids ...uint64) error {
	o.mu.Lock()
	after := o.lostAfter
	o.mu.Unlock()
	for _, id := range ids {
		if after > 0 && id > after {
			return errors.New("ack lost (simulated)")
		}
	}
	return o.MemOutbox.Ack(ctx, ids...)
}

func (o *lostAcks) release() {
	o.mu.Lock()
	o.lostAfter = 0
	o.mu.Unlock()
}

// delivered records what OnOutbox accepted, across root restarts.
type delivered struct {
	mu  sync.Mutex
	ids []uint64
}

func (d *delivered) onOutbox(from kernel.NodeName, m kernel.OutboxMessage) error {
	if from != "leaf" {
		return fmt.Errorf("message %d from %q, want leaf", m.ID, from)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.ids = append(d.ids, m.ID)
	return nil
}

func (d *delivered) count() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.ids)
}

func (d *delivered) snapshot() []uint64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]uint64(nil), d.ids...)
}

// TestOutboxLedgerRootRestart: a leaf under a gateway delivers three
// batches, the acknowledgement of the last one is lost, the root is stopped
// and started again on the same ledger directory, and the leaf sends that
// batch again.
// With the durable ledger OnOutbox sees every message exactly once, in
// order; with the in-memory ledger (the control) the restarted root
// delivers the unacknowledged messages a second time.
func TestOutboxLedgerRootRestart(t *testing.T) {
	// 150 messages are three batches: 1-64 and 65-128 acknowledged, 129-150
	// delivered but not acknowledged.
	const first, acked, second = 150, 2 * outboxBatch, 50
	nets := []struct {
		name   string
		tree   func(t *testing.T) *tree
		listen func(kernel.NodeName) string
	}{
		{"memnet", func(t *testing.T) *tree { tr, _ := memTree(t, fastTimers); return tr }, memListen},
		{"quic", func(t *testing.T) *tree {
			timers := fastTimers
			timers.HeartbeatInterval, timers.LostAfter = 200*time.Millisecond, 2*time.Second
			tr, _ := quicTree(t, timers)
			return tr
		}, quicListen},
	}
	for _, nw := range nets {
		for _, durable := range []bool{true, false} {
			name := nw.name + "/durable"
			if !durable {
				name = nw.name + "/in-memory"
			}
			t.Run(name, func(t *testing.T) {
				dir := t.TempDir()
				openLedger := func() OutboxLedger {
					if !durable {
						return nil // the default: a fresh one per start
					}
					l, err := ledger.Open(dir)
					if err != nil {
						t.Fatal(err)
					}
					t.Cleanup(func() { l.Close() })
					return l
				}
				tr := nw.tree(t)
				var got delivered
				base := tr.base
				startRoot := func(listen string) *Node {
					tr.base = base
					tr.base.OnOutbox, tr.base.OutboxLedger = got.onOutbox, openLedger()
					defer func() { tr.base = base }()
					return tr.start("ctl", kernel.RoleController, listen)
				}
				root := startRoot(nw.listen("ctl"))
				tr.start("gw", kernel.RoleGateway, nw.listen("gw"), "ctl")
				ob := &lostAcks{MemOutbox: NewMemOutbox(), lostAfter: acked}
				for i := 0; i < first; i++ {
					ob.Append("t/x", []byte(fmt.Sprint(i)))
				}
				tr.base.Outbox = ob
				tr.start("leaf", kernel.RoleLeaf, "", "gw")
				tr.base = base
				eventually(t, "first messages delivered", func() bool { return got.count() >= first })
				eventually(t, "the first two batches acknowledged", func() bool { return ob.Len() == first-acked })
				// The leaf keeps resending the third (its acks are lost); this
				// run of the root drops the repeats.
				time.Sleep(100 * time.Millisecond)

				addr := root.Addr()
				root.Close()
				delete(tr.nodes, "ctl")
				if l, ok := root.cfg.OutboxLedger.(*ledger.Ledger); ok {
					l.Close()
				}
				if got.count() != first {
					t.Fatalf("before the restart OnOutbox saw %d messages, want %d", got.count(), first)
				}
				startRoot(addr)
				ob.release()
				for i := first; i < first+second; i++ {
					ob.Append("t/x", []byte(fmt.Sprint(i)))
				}
				tr.nodes["leaf"].KickOutbox()
				eventually(t, "leaf's outbox drained", func() bool { return ob.Len() == 0 })

				ids := got.snapshot()
				if !durable {
					if want := first + (first - acked) + second; len(ids) != want {
						t.Fatalf("in-memory ledger: OnOutbox saw %d messages, want %d (the unacknowledged %d twice)", len(ids), want, first-acked)
					}
					return
				}
				if len(ids) != first+second {
					t.Fatalf("OnOutbox saw %d messages, want %d exactly once", len(ids), first+second)
				}
				for i, id := range ids {
					if id != uint64(i+1) {
						t.Fatalf("message %d has ID %d: repeated, lost or out of order", i, id)
					}
				}
			})
		}
	}
}

// flakyLedger fails its first loads and advances, as a full or failing
// disk would.
type flakyLedger struct {
	*MemOutboxLedger
	mu                  sync.Mutex
	loadFails, advFails int
	refused             int
}

func (l *flakyLedger) Load(src kernel.NodeName) (uint64, uint64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.loadFails > 0 {
		l.loadFails--
		return 0, 0, errors.New("read error (simulated)")
	}
	return l.MemOutboxLedger.Load(src)
}

func (l *flakyLedger) Advance(src kernel.NodeName, epoch, next uint64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.advFails > 0 {
		l.advFails--
		l.refused++
		return errors.New("no space left on device (simulated)")
	}
	return l.MemOutboxLedger.Advance(src, epoch, next)
}

// TestOutboxLedgerFailures: while the ledger cannot be read or written,
// or OnOutbox refuses a message, the leaf keeps its messages and retries;
// OnOutbox still sees each exactly once, in order, and the leaf's outbox
// is acknowledged only up to what the ledger holds.
func TestOutboxLedgerFailures(t *testing.T) {
	tr, _ := memTree(t, fastTimers)
	led := &flakyLedger{MemOutboxLedger: NewMemOutboxLedger(), loadFails: 2, advFails: 5}
	var got delivered
	refuse := 3 // OnOutbox refuses message 100 three times
	tr.base.OutboxLedger = led
	tr.base.OnOutbox = func(from kernel.NodeName, m kernel.OutboxMessage) error {
		if m.ID == 100 && refuse > 0 { // one batch at a time per source: no race
			refuse--
			return errors.New("broker unavailable (simulated)")
		}
		return got.onOutbox(from, m)
	}
	tr.start("ctl", kernel.RoleController, "mem:ctl")
	tr.base.OutboxLedger, tr.base.OnOutbox = nil, nil
	ob := NewMemOutbox()
	for i := 0; i < 300; i++ {
		ob.Append("t/x", []byte{byte(i)})
	}
	tr.base.Outbox = ob
	tr.start("leaf", kernel.RoleLeaf, "", "ctl")
	eventually(t, "leaf's outbox drained", func() bool { return ob.Len() == 0 })
	ids := got.snapshot()
	if len(ids) != 300 {
		t.Fatalf("OnOutbox saw %d messages, want 300 exactly once", len(ids))
	}
	for i, id := range ids {
		if id != uint64(i+1) {
			t.Fatalf("message %d has ID %d: repeated, lost or out of order", i, id)
		}
	}
	if e, v, _ := led.MemOutboxLedger.Load("leaf"); e != ob.Epoch() || v != 301 {
		t.Fatalf("ledger expects %d next of epoch %x, want 301 of %x", v, e, ob.Epoch())
	}
	led.mu.Lock()
	defer led.mu.Unlock()
	if led.refused != 5 || led.loadFails != 0 {
		t.Fatalf("ledger failures not all met: %d advances refused, %d loads left to fail", led.refused, led.loadFails)
	}
}

// syncBuffer is a log destination safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestOutboxLedgerIDsWentBack: a source whose outbox starts again at 1 in
// the same epoch (restored from an older copy) is below the ledger: its
// messages are dropped as repeats, as documented, and the root says so
// once in its log.
func TestOutboxLedgerIDsWentBack(t *testing.T) {
	tr, _ := memTree(t, fastTimers)
	ob := NewMemOutbox()
	led := NewMemOutboxLedger()
	led.Advance("leaf", ob.Epoch(), 1000)
	var got delivered
	var logs syncBuffer
	cfg := tr.base
	cfg.Name, cfg.Role, cfg.Network, cfg.Listen = "ctl", kernel.RoleController, tr.net("ctl", kernel.RoleController), "mem:ctl"
	cfg.OutboxLedger, cfg.OnOutbox = led, got.onOutbox
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	root, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := root.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { root.Close() })
	tr.addr["ctl"] = root.Addr()
	for i := 0; i < 100; i++ {
		ob.Append("t/x", nil)
	}
	tr.base.Outbox = ob
	tr.start("leaf", kernel.RoleLeaf, "", "ctl")
	eventually(t, "leaf's outbox drained", func() bool { return ob.Len() == 0 })
	if got.count() != 0 {
		t.Fatalf("OnOutbox saw %d messages below the ledger", got.count())
	}
	if k := strings.Count(logs.String(), "outbox IDs below the ledger"); k != 1 {
		t.Fatalf("warned %d times, want once:\n%s", k, logs.String())
	}
}

// TestOutboxFirstIDZero: an outbox whose first ID is 0 loses nothing; the
// root tells "nothing delivered yet" from "0 delivered".
func TestOutboxFirstIDZero(t *testing.T) {
	tr, _ := memTree(t, fastTimers)
	var got delivered
	tr.base.OnOutbox = got.onOutbox
	tr.start("ctl", kernel.RoleController, "mem:ctl")
	tr.base.OnOutbox = nil
	ob := NewMemOutbox()
	for i := 0; i < 10; i++ {
		ob.Append("t/x", nil)
	}
	tr.base.Outbox = shifted{ob}
	tr.start("leaf", kernel.RoleLeaf, "", "ctl")
	eventually(t, "leaf's outbox drained", func() bool { return ob.Len() == 0 })
	ids := got.snapshot()
	if len(ids) != 10 {
		t.Fatalf("OnOutbox saw IDs %v, want 0-9", ids)
	}
	for i, id := range ids {
		if id != uint64(i) {
			t.Fatalf("OnOutbox saw IDs %v, want 0-9", ids)
		}
	}
}
