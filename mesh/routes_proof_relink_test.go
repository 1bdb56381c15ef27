package mesh

import (
	"context"
	"testing"
	"time"

	"github.com/canopy-fleet/canopy/kernel"
)

// A gateway that relinks from its gateway straight to the controller
// (gw-m, under gw-x) sends its subtree's proofs as held: the same proofs
// the controller holds through gw-x, so not newer while gw-x's link is
// live. They are kept, the nested ones (leaf-z under gw-n under gw-m)
// too, and take the routes when gw-x lets them go: every node of the
// subtree is routed through gw-m.
func TestRouteProofsNestedGatewayRelinks(t *testing.T) {
	pt := newProofTree(t)
	// Slow beats: the raw links below must count as live between steps.
	pt.base.HeartbeatInterval, pt.base.LostAfter = time.Second, 10*time.Second
	ctl := pt.node("ctl", kernel.RoleController)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	gn := pt.ca.identity(t, "gw-n", kernel.RoleGateway)
	lz := pt.ca.identity(t, "leaf-z", kernel.RoleLeaf)
	gx, xid := pt.rogue(ctx, "gw-x")
	now := time.Now()
	mp := newRouteProof(pt.ca.identity(t, "gw-m", kernel.RoleGateway), "gw-x", now.Add(-time.Minute))
	np, zp := newRouteProof(gn, "gw-m", now.Add(-time.Minute)), newRouteProof(lz, "gw-n", now.Add(-time.Minute))
	hx := hello{Version: ProtocolVersion, Proof: newRouteProof(xid, "ctl", now),
		Routes: []kernel.NodeName{"gw-m", "gw-n", "leaf-z"}, Proofs: []*routeProof{mp, np, zp}}
	if typ, p, err := rawCall(t, gx, encode(tHello, hx)); err != nil || typ != tHelloAck {
		t.Fatalf("gw-x hello: %d %q %v", typ, p, err)
	}
	eventually(t, "leaf-z routed through gw-x", func() bool { return ctl.routeVia("leaf-z") == "gw-x" })
	gm, mid := pt.rogue(ctx, "gw-m")
	hm := hello{Version: ProtocolVersion, Proof: newRouteProof(mid, "ctl", time.Now()),
		Routes: []kernel.NodeName{"gw-n", "leaf-z"}, Proofs: []*routeProof{np, zp}}
	if typ, p, err := rawCall(t, gm, encode(tHello, hm)); err != nil || typ != tHelloAck {
		t.Fatalf("gw-m hello: %d %q %v", typ, p, err)
	}
	eventually(t, "gw-m linked", func() bool { return ctl.routeVia("gw-m") == "gw-m" })
	if typ, _, err := rawCall(t, gx, encode(tRoutes, routes{Del: []kernel.NodeName{"gw-m", "gw-n", "leaf-z"}})); err != nil || typ != tOK {
		t.Fatalf("gw-x routes: %d %v", typ, err)
	}
	for _, x := range []kernel.NodeName{"gw-n", "leaf-z"} {
		if via := ctl.routeVia(x); via != "gw-m" {
			t.Errorf("%s routed through %q after gw-x let it go, want gw-m (its relinked gateway)", x, via)
		}
	}
}
