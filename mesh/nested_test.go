package mesh

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/canopy-fleet/canopy/kernel"
)

// Gateways nest: ctl → gw-a → gw-b → leaf. Messages relay both ways
// through two gateways and a blob is cached at each level.
func TestNestedGateways(t *testing.T) {
	tr, _ := memTree(t, fastTimers)
	ctl := tr.start("ctl", kernel.RoleController, "mem:ctl")
	tr.start("gw-a", kernel.RoleGateway, "mem:gw-a", "ctl")
	tr.start("gw-b", kernel.RoleGateway, "mem:gw-b", "gw-a")
	leaf := tr.start("leaf", kernel.RoleLeaf, "", "gw-b")
	eventually(t, "leaf routed at the controller", func() bool { return ctl.Reaches("leaf") })
	leaf.Handle("ping", func(_ context.Context, from kernel.NodeName, _ []byte) ([]byte, error) {
		return []byte("pong " + from), nil
	})
	ctl.Handle("up", func(_ context.Context, from kernel.NodeName, _ []byte) ([]byte, error) { return []byte(from), nil })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if b, err := ctl.Request(ctx, "leaf", "ping", nil); err != nil || string(b) != "pong ctl" {
		t.Fatalf("down two gateways: %q %v", b, err)
	}
	if b, err := leaf.Request(ctx, "", "up", nil); err != nil || string(b) != "leaf" {
		t.Fatalf("up two gateways: %q %v", b, err)
	}
	data := bytes.Repeat([]byte("nested"), 50000)
	d, _ := ctl.Blobs().Put(bytes.NewReader(data))
	if _, err := leaf.FetchBlob(ctx, d); err != nil {
		t.Fatal(err)
	}
	for _, g := range []kernel.NodeName{"gw-a", "gw-b"} {
		if !tr.nodes[g].Blobs().Has(d) {
			t.Fatalf("%s did not cache the blob", g)
		}
	}
	// The latency reports of the deepest node reach the root.
	eventually(t, "leaf's latency report at the root", func() bool {
		_, ok := ctl.Latency()["leaf"]["gw-b"]
		return ok
	})
}

// flakyAck loses the first acknowledgements, as a crash between delivery
// and ack would: the same messages are sent again and the root must drop
// the repeats.
type flakyAck struct {
	*MemOutbox
	mu    sync.Mutex
	fails int
}

func (f *flakyAck) Ack(ctx context.Context, ids ...uint64) error {
	f.mu.Lock()
	if f.fails > 0 {
		f.fails--
		f.mu.Unlock()
		return errors.New("disk full (simulated)")
	}
	f.mu.Unlock()
	return f.MemOutbox.Ack(ctx, ids...)
}

func TestOutboxRepeatsAreDeliveredOnce(t *testing.T) {
	tr, _ := memTree(t, fastTimers)
	var mu sync.Mutex
	var got []uint64
	tr.base.OnOutbox = func(from kernel.NodeName, m kernel.OutboxMessage) error {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, m.ID)
		return nil
	}
	tr.start("ctl", kernel.RoleController, "mem:ctl")
	tr.base.OnOutbox = nil
	ob := &flakyAck{MemOutbox: NewMemOutbox(), fails: 3}
	for i := 0; i < 30; i++ {
		ob.Append("t/x", []byte{byte(i)})
	}
	tr.base.Outbox = ob
	leaf := tr.start("leaf", kernel.RoleLeaf, "", "ctl")
	eventually(t, "outbox drained", func() bool { return ob.Len() == 0 })
	// A restarted node with the same (durable) outbox sends only what is new.
	leaf.Close()
	delete(tr.nodes, "leaf")
	for i := 30; i < 40; i++ {
		ob.Append("t/x", []byte{byte(i)})
	}
	tr.start("leaf", kernel.RoleLeaf, "", "ctl")
	eventually(t, "outbox drained after restart", func() bool { return ob.Len() == 0 })
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 40 {
		t.Fatalf("delivered %d messages, want 40 exactly once: %v", len(got), got)
	}
	for i, id := range got {
		if id != uint64(i+1) {
			t.Fatalf("position %d has id %d: out of order or repeated", i, id)
		}
	}
}

// A fetch resumes from the bytes a previous, interrupted fetch kept: a
// correct prefix completes to the blob; a corrupted prefix is caught by the
// digest check, discarded, and the retry starts over and succeeds.
func TestBlobResume(t *testing.T) {
	tr, _ := memTree(t, fastTimers)
	ctl := tr.start("ctl", kernel.RoleController, "mem:ctl")
	leaf := tr.start("leaf", kernel.RoleLeaf, "", "ctl")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := leaf.WaitParent(ctx); err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("0123456789"), 40000)
	d, _ := ctl.Blobs().Put(bytes.NewReader(data))

	f, _, _ := leaf.Blobs().Partial(d)
	f.Write(data[:150000]) // what an interrupted fetch kept
	f.Close()
	p, err := leaf.FetchBlob(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := readFile(p); !bytes.Equal(b, data) {
		t.Fatal("resumed blob differs")
	}

	data2 := bytes.Repeat([]byte("abcdefghij"), 40000)
	d2, _ := ctl.Blobs().Put(bytes.NewReader(data2))
	f, _, _ = leaf.Blobs().Partial(d2)
	f.Write(bytes.Repeat([]byte("X"), 150000)) // a corrupted prefix
	f.Close()
	// The first attempt resumes after the corrupt prefix, fails the digest
	// check and discards it; the retry fetches from zero.
	p, err = leaf.FetchBlob(ctx, d2)
	if err != nil {
		t.Fatalf("fetch with a corrupt partial: %v", err)
	}
	if got := leaf.Stats().BlobFetches.Load(); got != 3 {
		t.Fatalf("%d download attempts, want 3 (1 resumed, then 1 discarded + 1 fresh)", got)
	}
	if b, _ := readFile(p); !bytes.Equal(b, data2) {
		t.Fatal("refetched blob differs")
	}
}

// A node probes its alternate parent and reports that round trip up with
// its links' measurements, so the root's latency graph has the alternate.
func TestAlternateProbesReachTheRoot(t *testing.T) {
	base := fastTimers
	base.ProbeInterval = 50 * time.Millisecond
	tr, _ := memTree(t, base)
	ctl := tr.start("ctl", kernel.RoleController, "mem:ctl")
	tr.start("gw-1", kernel.RoleGateway, "mem:gw-1", "ctl")
	tr.start("gw-2", kernel.RoleGateway, "mem:gw-2", "ctl")
	leaf := tr.start("leaf", kernel.RoleLeaf, "", "gw-1", "gw-2")
	eventually(t, "leaf's probe of gw-2 in the root's graph", func() bool {
		m := ctl.Latency()["leaf"]
		_, viaParent := m["gw-1"]
		_, probed := m["gw-2"]
		return viaParent && probed
	})
	if leaf.Parent() != "gw-1" {
		t.Fatalf("leaf moved to %s", leaf.Parent())
	}
	for _, c := range tr.nodes["gw-2"].Children() {
		if c == "leaf" {
			t.Fatal("the probe made the leaf a child of gw-2")
		}
	}
}

// A QoS 1 publication made while the node has no parent waits for the
// link to come back and then reaches the subscriber.
func TestQoS1WaitsForTheParent(t *testing.T) {
	tr, fab := memTree(t, fastTimers)
	ctl := tr.start("ctl", kernel.RoleController, "mem:ctl")
	got := make(chan Message, 4)
	if _, err := ctl.Subscribe("alerts/#", func(m Message) { got <- m }); err != nil {
		t.Fatal(err)
	}
	leaf := tr.start("leaf", kernel.RoleLeaf, "", "ctl")
	eventually(t, "interest reached the leaf", func() bool { return leaf.parentWants("alerts/x") })
	fab.Block("leaf", "ctl")
	eventually(t, "leaf lost its parent", func() bool { return leaf.Parent() == "" })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- leaf.Publish(ctx, "alerts/x", []byte("hot"), 1) }()
	time.Sleep(100 * time.Millisecond)
	select {
	case err := <-done:
		t.Fatalf("publish returned while cut off: %v", err)
	default:
	}
	fab.Unblock("leaf", "ctl")
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-got:
		if string(m.Data) != "hot" || m.Src != "leaf" {
			t.Fatalf("got %+v", m)
		}
	case <-ctx.Done():
		t.Fatal("subscriber got nothing")
	}
}
