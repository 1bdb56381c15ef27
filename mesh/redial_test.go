package mesh

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/canopy-fleet/canopy/kernel"
	"github.com/canopy-fleet/canopy/mesh/clock"
	"github.com/canopy-fleet/canopy/mesh/frame"
	"github.com/canopy-fleet/canopy/mesh/memnet"
)

// After losing a link that worked, a child waits a random fraction of
// ReconnectMin (on its clock) before it dials again, so the children of a
// gateway that died do not all dial its alternate at the same moment.
func TestRedialWaitsAJitterAfterALostLink(t *testing.T) {
	f := memnet.NewFabric()
	ctl, err := New(Config{Name: "ctl", Role: kernel.RoleController, Network: f.Endpoint("ctl", kernel.RoleController), Listen: "mem:ctl"})
	if err != nil {
		t.Fatal(err)
	}
	if err := ctl.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer ctl.Close()
	clk := clock.NewFake(time.Now())
	cn := &countingNet{Network: f.Endpoint("leaf", kernel.RoleLeaf)}
	leaf, err := New(Config{Name: "leaf", Role: kernel.RoleLeaf, Network: cn, Parents: []Parent{{Addr: "mem:ctl", Name: "ctl"}},
		Clock: clk, Rand: rand.New(rand.NewPCG(1, 2)), ReconnectMin: 100 * time.Millisecond, ProbeInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	if err := leaf.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer leaf.Close()
	eventually(t, "the leaf's first heartbeat answered", func() bool {
		leaf.mu.Lock()
		defer leaf.mu.Unlock()
		if leaf.parent == nil {
			return false
		}
		leaf.parent.mu.Lock()
		defer leaf.parent.mu.Unlock()
		return leaf.parent.probe > 0
	})
	ctl.Close()
	eventually(t, "the leaf lost its parent", func() bool { return leaf.Parent() == "" })
	quiet(t, cn, 1, "dialed again at once after a lost link")
	eventually(t, "a dial once ReconnectMin passed", func() bool {
		clk.Advance(10 * time.Millisecond)
		return cn.count() >= 2
	})
}

// The wait after a lost link is spread over [0, ReconnectMin).
func TestLossJitterSpreads(t *testing.T) {
	n, err := New(Config{Name: "leaf", Role: kernel.RoleLeaf, Network: memnet.NewFabric().Endpoint("leaf", kernel.RoleLeaf), Parents: []Parent{{Addr: "mem:x"}},
		Rand: rand.New(rand.NewPCG(3, 4)), ReconnectMin: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	var lo, hi int
	for i := 0; i < 1000; i++ {
		d := n.lossJitter()
		if d < 0 || d >= time.Second {
			t.Fatalf("jitter %v outside [0, 1s)", d)
		}
		if d < 500*time.Millisecond {
			lo++
		} else {
			hi++
		}
	}
	if lo < 400 || hi < 400 {
		t.Fatalf("jitter not spread: %d below half, %d above", lo, hi)
	}
}

// A parent that drops its child right after the hello (before any
// heartbeat is answered) counts as a failed dial: the child backs off
// instead of dialing it again in a tight loop.
func TestParentDroppingAfterHelloIsBackedOff(t *testing.T) {
	f := memnet.NewFabric()
	ln, err := f.Endpoint("gw-x", kernel.RoleGateway).Listen("mem:gw-x")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go func() {
		for {
			c, err := ln.Accept(ctx)
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				s, err := c.AcceptStream(ctx)
				if err != nil {
					return
				}
				if _, _, err := frame.Read(s, 1<<20); err != nil {
					return
				}
				frame.WriteMsg(s, tHelloAck, helloAck{Version: ProtocolVersion})
				s.CloseWrite()
				c.AcceptStream(ctx) // the first heartbeat: dropped unanswered
			}()
		}
	}()
	clk := clock.NewFake(time.Now())
	cn := &countingNet{Network: f.Endpoint("leaf", kernel.RoleLeaf)}
	leaf, err := New(Config{Name: "leaf", Role: kernel.RoleLeaf, Network: cn, Parents: []Parent{{Addr: "mem:gw-x", Name: "gw-x"}},
		Clock: clk, Rand: rand.New(rand.NewPCG(1, 2)), ProbeInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	if err := leaf.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer leaf.Close()
	eventually(t, "the first dial", func() bool { return cn.count() >= 1 })
	quiet(t, cn, 1, "a parent that drops its child after the hello redialed at once")
}

// Config.Advertise names the address a gateway gives its parent: as is
// with a port, with the bound port when a host only.
func TestAdvertise(t *testing.T) {
	f := memnet.NewFabric()
	for _, c := range []struct{ advertise, listen, want string }{
		{"", "mem:gw", "mem:gw"},
		{"10.0.0.7:9000", "mem:gw", "10.0.0.7:9000"},
		{"10.0.0.7", "mem:gw", "10.0.0.7:gw"},
		{"gw.example", "mem:gw", "gw.example:gw"},
	} {
		n, err := New(Config{Name: "gw", Role: kernel.RoleGateway, Network: f.Endpoint("gw", kernel.RoleGateway), Listen: c.listen, Advertise: c.advertise, Parents: []Parent{{Addr: "mem:none"}}, ProbeInterval: -1})
		if err != nil {
			t.Fatal(err)
		}
		if err := n.Start(t.Context()); err != nil {
			t.Fatal(err)
		}
		if got := n.Advertised(); got != c.want {
			t.Errorf("Advertise %q on %s: advertised %q, want %q", c.advertise, c.listen, got, c.want)
		}
		n.Close()
	}
}

// FuzzSiblingsMsg feeds arbitrary sibling messages to a child: whatever
// arrives, its learned alternates never name itself, its parent, an
// invalid name or an empty address.
func FuzzSiblingsMsg(f *testing.F) {
	for _, m := range []siblingsMsg{
		{Peers: []siblingAddr{{Name: "gw-2", Addr: "mem:gw-2"}}, Alternates: []siblingAddr{{Name: "gw-2", Addr: "mem:gw-2"}, {Name: "ctl", Addr: "mem:ctl"}}},
		{Alternates: []siblingAddr{{Name: "leaf", Addr: "mem:leaf"}, {Name: "gw-1", Addr: "mem:gw-1"}, {Name: "Bad_Name", Addr: "x"}, {Name: "x", Addr: ""}}},
	} {
		b, err := frame.Marshal(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	n, err := New(Config{Name: "leaf", Role: kernel.RoleLeaf, Network: memnet.NewFabric().Endpoint("leaf", kernel.RoleLeaf), Parents: []Parent{{Addr: "mem:gw-1", Name: "gw-1"}}})
	if err != nil {
		f.Fatal(err)
	}
	parent := &peerLink{n: n}
	parent.peer.Name = "gw-1"
	f.Fuzz(func(t *testing.T, b []byte) {
		var m siblingsMsg
		if frame.Unmarshal(b, &m) != nil {
			return
		}
		n.mu.Lock()
		defer n.mu.Unlock()
		n.setLearnedLocked(parent, m.Alternates)
		for _, p := range n.learned {
			if p.Name == "leaf" || p.Name == "gw-1" || p.Addr == "" || !kernel.ValidName(string(p.Name)) {
				t.Fatalf("learned %+v", p)
			}
		}
	})
}
