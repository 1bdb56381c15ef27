package mesh

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/canopy-fleet/canopy/kernel"
	"github.com/canopy-fleet/canopy/mesh/link"
	"github.com/canopy-fleet/canopy/mesh/memnet"
)

// New probe targets are measured soon, not a ProbeInterval (40 s here,
// ProbeInterval/8 = 5 s of spread) later: a leaf told of its alternates
// reports its round trips to them, and a gateway to its new sibling,
// within seconds.
func TestNewProbeTargetsMeasuredSoon(t *testing.T) {
	base := fastTimers
	base.ProbeInterval = 40 * time.Second
	tr, _ := memTree(t, base)
	ctl := tr.start("ctl", kernel.RoleController, memListen("ctl"))
	tr.start("gw-1", kernel.RoleGateway, memListen("gw-1"), "ctl")
	tr.start("gw-2", kernel.RoleGateway, memListen("gw-2"), "ctl")
	tr.start("leaf", kernel.RoleLeaf, "", "gw-1")
	eventually(t, "the leaf's round trips to its alternates and gw-1's to its sibling at the root", func() bool {
		g := ctl.Latency()
		_, a := g["leaf"]["gw-2"]
		_, b := g["leaf"]["ctl"]
		_, c := g["gw-1"]["gw-2"]
		return a && b && c
	})
}

// dialCounter counts a network's dials made while its node is linked to
// a parent (probes: a redial after a lost link is not one).
type dialCounter struct {
	link.Network
	node  atomic.Pointer[Node]
	dials atomic.Int64
}

func (d *dialCounter) Dial(ctx context.Context, addr string, want kernel.NodeName) (link.Conn, error) {
	if n := d.node.Load(); n != nil && n.Parent() != "" {
		d.dials.Add(1)
	}
	return d.Network.Dial(ctx, addr, want)
}

// A node never probes its own parent, even when it was given the parent
// by address alone (as `canopy agent --join ADDR` does): the link has its
// round trip, and the probe would cost the parent a handshake per child
// per ProbeInterval.
func TestNoProbeOfTheParentByAddress(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	start := nodeStarter(t, ctx)
	f := memnet.NewFabric()
	cfg := fastTimers
	cfg.HeartbeatInterval, cfg.LostAfter = 100*time.Millisecond, 2*time.Second // no lost link under load
	cfg.ProbeInterval = 10 * time.Millisecond
	gw := cfg
	gw.Name, gw.Role, gw.Network, gw.Listen = "gw", kernel.RoleController, f.Endpoint("gw", kernel.RoleController), "mem:gw"
	start(gw)
	nw := &dialCounter{Network: f.Endpoint("leaf", kernel.RoleLeaf)}
	leafCfg := cfg
	leafCfg.Name, leafCfg.Role, leafCfg.Network, leafCfg.Parents = "leaf", kernel.RoleLeaf, nw, []Parent{{Addr: "mem:gw"}}
	leaf := start(leafCfg)
	nw.node.Store(leaf)
	wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
	defer wcancel()
	if err := leaf.WaitParent(wctx); err != nil {
		t.Fatal(err)
	}
	time.Sleep(30 * cfg.ProbeInterval)
	if leaf.Parent() != "gw" {
		t.Fatalf("leaf's parent %q", leaf.Parent())
	}
	if n := nw.dials.Load(); n != 0 {
		t.Errorf("%d dials in 30 probe intervals while linked to its only parent, want none", n)
	}
}
