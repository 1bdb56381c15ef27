package mesh

import (
	"context"
	"testing"
	"time"

	"github.com/canopy-fleet/canopy/kernel"
	"github.com/canopy-fleet/canopy/mesh/quicnet"
)

// A node linked straight to the controller that fails over to a gateway
// below it (a sibling it was told of) is claimed by that gateway while
// its old link is still here, not yet declared lost: the claim is kept
// (its proof older than the one held: the device's clock was set back)
// and takes the route when the old link goes, so the node stays
// reachable.
func TestRouteProofsDirectChildMovesBelow(t *testing.T) {
	pt := newProofTree(t)
	pt.base.HeartbeatInterval, pt.base.LostAfter = time.Second, 10*time.Second
	ctl := pt.node("ctl", kernel.RoleController)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	xid := pt.ca.identity(t, "leaf-x", kernel.RoleLeaf)
	nw, err := quicnet.New(quicnet.Config{Identity: xid})
	if err != nil {
		t.Fatal(err)
	}
	xc, err := nw.Dial(ctx, ctl.Addr(), "ctl")
	if err != nil {
		t.Fatal(err)
	}
	defer xc.Close()
	hx := hello{Version: ProtocolVersion, Proof: newRouteProof(xid, "ctl", time.Now().Add(-time.Minute))}
	if typ, p, err := rawCall(t, xc, encode(tHello, hx)); err != nil || typ != tHelloAck {
		t.Fatalf("leaf-x hello: %d %q %v", typ, p, err)
	}
	eventually(t, "leaf-x linked", func() bool { return ctl.routeVia("leaf-x") == "leaf-x" })
	g, gid := pt.rogue(ctx, "gw-g")
	hg := hello{Version: ProtocolVersion, Proof: newRouteProof(gid, "ctl", time.Now()),
		Routes: []kernel.NodeName{"leaf-x"}, Proofs: []*routeProof{newRouteProof(xid, "gw-g", time.Now().Add(-time.Hour))}}
	if typ, p, err := rawCall(t, g, encode(tHello, hg)); err != nil || typ != tHelloAck {
		t.Fatalf("gw-g hello: %d %q %v", typ, p, err)
	}
	eventually(t, "gw-g linked", func() bool { return ctl.routeVia("gw-g") == "gw-g" })
	if via := ctl.routeVia("leaf-x"); via != "leaf-x" {
		t.Fatalf("leaf-x routed through %q while linked here", via)
	}
	xc.Close() // the old link is lost
	eventually(t, "leaf-x routed through gw-g once its old link is gone", func() bool { return ctl.routeVia("leaf-x") == "gw-g" })
}
