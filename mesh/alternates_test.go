package mesh

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/canopy-fleet/canopy/kernel"
	"github.com/canopy-fleet/canopy/mesh/link"
	"github.com/canopy-fleet/canopy/mesh/memnet"
)

// A leaf configured with one parent learns its alternates from the tree
// (its gateway's listening sibling and the gateway's parent), hands them
// to OnAlternates, probes them, and fails over to the sibling when its
// gateway goes away; there it learns the new gateway's alternates.
func TestLeafLearnsAlternatesAndFailsOver(t *testing.T) {
	base := fastTimers
	base.ProbeInterval = 50 * time.Millisecond
	t.Run("memnet", func(t *testing.T) {
		tr, _ := memTree(t, base)
		learnAndFailOver(t, tr, memListen)
	})
	t.Run("quic", func(t *testing.T) {
		timers := base
		timers.HeartbeatInterval, timers.LostAfter = 200*time.Millisecond, 2*time.Second
		tr, _ := quicTree(t, timers)
		learnAndFailOver(t, tr, quicListen)
	})
}

func learnAndFailOver(t *testing.T, tr *tree, listen func(kernel.NodeName) string) {
	ctl := tr.start("ctl", kernel.RoleController, listen("ctl"))
	gw1 := tr.start("gw-1", kernel.RoleGateway, listen("gw-1"), "ctl")
	tr.start("gw-2", kernel.RoleGateway, listen("gw-2"), "ctl")
	var mu sync.Mutex
	var saved [][]Parent
	tr.base.OnAlternates = func(ps []Parent) {
		mu.Lock()
		saved = append(saved, ps)
		mu.Unlock()
	}
	leaf := tr.start("leaf", kernel.RoleLeaf, "", "gw-1")
	tr.base.OnAlternates = nil
	want := []Parent{{Name: "gw-2", Addr: tr.addr["gw-2"]}, {Name: "ctl", Addr: tr.addr["ctl"]}}
	eventually(t, "the leaf's alternates learned from gw-1", func() bool {
		return slices.Equal(leaf.Alternates(), want)
	})
	eventually(t, "OnAlternates handed the list", func() bool { // on its own goroutine
		mu.Lock()
		defer mu.Unlock()
		return len(saved) > 0 && slices.Equal(saved[len(saved)-1], want)
	})
	eventually(t, "the leaf's probes of its learned alternates in the root's graph", func() bool {
		g := ctl.Latency()
		return g["leaf"]["gw-2"] > 0 && g["leaf"]["ctl"] > 0
	})
	gw1.Close()
	eventually(t, "the leaf linked under gw-2", func() bool { return leaf.Parent() == "gw-2" })
	eventually(t, "the controller routes to the leaf again", func() bool { return ctl.Reaches("leaf") })
	// gw-2, where it now is, comes first: a restart with the saved list
	// and gw-1 still gone brings it back there.
	eventually(t, "the leaf's alternates learned from gw-2", func() bool {
		return slices.Equal(leaf.Alternates(), []Parent{{Name: "gw-2", Addr: tr.addr["gw-2"]}, {Name: "ctl", Addr: tr.addr["ctl"]}})
	})
}

// Alternates given at start (saved from an earlier run) are dialed when
// the configured parent is gone.
func TestStartAlternatesDialedWhenPrimaryIsGone(t *testing.T) {
	tr, _ := memTree(t, fastTimers)
	tr.start("ctl", kernel.RoleController, "mem:ctl")
	tr.start("gw-2", kernel.RoleGateway, "mem:gw-2", "ctl")
	tr.base.Alternates = []Parent{{Name: "gw-2", Addr: "mem:gw-2"}}
	tr.addr["gw-1"] = "mem:gw-1" // never started
	leaf := tr.start("leaf", kernel.RoleLeaf, "", "gw-1")
	tr.base.Alternates = nil
	eventually(t, "the leaf linked under its saved alternate", func() bool { return leaf.Parent() == "gw-2" })
}

// The root forgets the latency reports of a node that left the tree.
func TestRootDropsGoneNodesLatency(t *testing.T) {
	tr, _ := memTree(t, fastTimers)
	ctl := tr.start("ctl", kernel.RoleController, "mem:ctl")
	tr.start("gw-1", kernel.RoleGateway, "mem:gw-1", "ctl")
	leaf := tr.start("leaf-a", kernel.RoleLeaf, "", "gw-1")
	eventually(t, "leaf-a's report at the root", func() bool {
		_, ok := ctl.Latency()["leaf-a"]
		return ok
	})
	leaf.Close()
	eventually(t, "leaf-a gone from the root's graph", func() bool {
		_, ok := ctl.Latency()["leaf-a"]
		_, gw := ctl.Latency()["gw-1"]
		return !ok && gw
	})
}

// blockingNet holds dials to one address until released.
type blockingNet struct {
	link.Network
	addr    string
	dialing chan struct{}
	release chan struct{}
}

func (b blockingNet) Dial(ctx context.Context, addr string, want kernel.NodeName) (link.Conn, error) {
	if addr == b.addr {
		b.dialing <- struct{}{}
		<-b.release
	}
	return b.Network.Dial(ctx, addr, want)
}

// A probe that ends after its target stopped being a sibling leaves no
// figure behind.
func TestProbeOfAFormerSiblingNotStored(t *testing.T) {
	f := memnet.NewFabric()
	sib, err := New(Config{Name: "gw-2", Role: kernel.RoleGateway, Network: f.Endpoint("gw-2", kernel.RoleGateway), Listen: "mem:gw-2", Parents: []Parent{{Addr: "mem:none"}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := sib.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer sib.Close()
	bn := blockingNet{Network: f.Endpoint("gw-1", kernel.RoleGateway), addr: "mem:gw-2", dialing: make(chan struct{}), release: make(chan struct{})}
	n, err := New(Config{Name: "gw-1", Role: kernel.RoleGateway, Network: bn, Listen: "mem:gw-1", Parents: []Parent{{Addr: "mem:none"}}, ProbeInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	n.mu.Lock()
	n.setSiblingsLocked(map[kernel.NodeName]string{"gw-2": "mem:gw-2"})
	n.mu.Unlock()
	done := make(chan struct{})
	go func() {
		defer close(done)
		n.probe(Parent{Name: "gw-2", Addr: "mem:gw-2"})
	}()
	<-bn.dialing
	n.mu.Lock()
	n.setSiblingsLocked(nil) // the parent's new list has no gw-2
	n.mu.Unlock()
	close(bn.release)
	<-done
	n.mu.Lock()
	d, ok := n.probes["gw-2"]
	n.mu.Unlock()
	if ok {
		t.Fatalf("a probe of a former sibling was stored: %v", d)
	}
	// The same probe while gw-2 is still a sibling is stored.
	n.mu.Lock()
	n.setSiblingsLocked(map[kernel.NodeName]string{"gw-2": "mem:gw-2"})
	n.mu.Unlock()
	go func() { <-bn.dialing }()
	n.probe(Parent{Name: "gw-2", Addr: "mem:gw-2"})
	n.mu.Lock()
	_, ok = n.probes["gw-2"]
	n.mu.Unlock()
	if !ok {
		t.Fatal("a probe of a sibling was not stored")
	}
}

// countingNet counts dials.
type countingNet struct {
	link.Network
	mu    sync.Mutex
	dials int
}

func (c *countingNet) Dial(ctx context.Context, addr string, want kernel.NodeName) (link.Conn, error) {
	c.mu.Lock()
	c.dials++
	c.mu.Unlock()
	return c.Network.Dial(ctx, addr, want)
}

func (c *countingNet) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.dials
}

// quiet checks that the dial count stays at want for a while: the node
// is waiting on its (fake) clock, not dialing.
func quiet(t *testing.T, cn *countingNet, want int, what string) {
	t.Helper()
	for i := 0; i < 20; i++ {
		time.Sleep(10 * time.Millisecond)
		if got := cn.count(); got != want {
			t.Fatalf("%s: %d dials, want %d", what, got, want)
		}
	}
}

// A gateway's children are told its siblings in different orders, so
// when it dies they spread over the siblings; its parent comes last.
func TestAlternatesSpreadOverSiblings(t *testing.T) {
	n := &Node{siblings: map[kernel.NodeName]string{"gw-2": "a", "gw-3": "b", "gw-4": "c"}}
	alts := []siblingAddr{{Name: "gw-2", Addr: "a"}, {Name: "gw-3", Addr: "b"}, {Name: "gw-4", Addr: "c"}, {Name: "ctl", Addr: "d"}}
	first := map[kernel.NodeName]int{}
	for i := 0; i < 300; i++ {
		got := n.alternatesFor(kernel.NodeName(fmt.Sprintf("leaf-%d", i)), alts)
		if len(got) != 4 || got[3].Name != "ctl" {
			t.Fatalf("alternates %v: want the three siblings then ctl", got)
		}
		first[got[0].Name]++
	}
	for _, s := range []kernel.NodeName{"gw-2", "gw-3", "gw-4"} {
		if first[s] < 50 {
			t.Errorf("%s first for %d of 300 children: %v", s, first[s], first)
		}
	}
}

// OnAlternates runs on a goroutine of its own: one that takes longer than
// LostAfter (a file synced to a slow SD card) delays neither the link-up
// nor the first heartbeat, so the gateway keeps its child.
func TestSlowOnAlternatesKeepsTheLink(t *testing.T) {
	tr, _ := memTree(t, fastTimers)
	tr.start("ctl", kernel.RoleController, memListen("ctl"))
	tr.start("gw-1", kernel.RoleGateway, memListen("gw-1"), "ctl")
	var calls atomic.Int32
	tr.base.OnAlternates = func([]Parent) {
		if calls.Add(1) == 1 {
			time.Sleep(3 * fastTimers.LostAfter)
		}
	}
	tr.start("leaf", kernel.RoleLeaf, "", "gw-1")
	tr.base.OnAlternates = nil
	eventually(t, "OnAlternates called", func() bool { return calls.Load() >= 1 })
	time.Sleep(4 * fastTimers.LostAfter)
	if n := tr.ev["gw-1"].count(EventChildLost, "leaf"); n != 0 {
		t.Fatalf("gw-1 lost the leaf %d times while its OnAlternates ran", n)
	}
}
