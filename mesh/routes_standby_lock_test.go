package mesh

import (
	"context"
	"math/big"
	"sync/atomic"
	"testing"
	"time"

	"github.com/canopy-fleet/canopy/kernel"
	"github.com/canopy-fleet/canopy/mesh/identity"
)

// A standby claim (its proof checked when it was kept) takes the route
// without its certificate being verified again under the node's lock:
// a gateway lost with a thousand standbys would hold the node that long.
// It is still not taken once its certificate has expired or been revoked.
func TestStandbyPromotedWithoutVerifying(t *testing.T) {
	pt := newProofTree(t)
	pt.base.HeartbeatInterval, pt.base.LostAfter = time.Second, 10*time.Second
	ctl := pt.node("ctl", kernel.RoleController)
	var counting atomic.Bool
	var verifies atomic.Int64
	var revoked atomic.Bool
	ctl.mu.Lock()
	v := ctl.claimVerifierLocked()
	ctl.claims.verifier = &identity.Verifier{CA: v.CA, Revoked: func(s *big.Int) bool { return revoked.Load() || v.Revoked(s) },
		Now: func() time.Time {
			if counting.Load() {
				verifies.Add(1)
			}
			return v.Now()
		}}
	ctl.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	leaf := pt.ca.identity(t, "leaf-5", kernel.RoleLeaf)
	link := func(gw kernel.NodeName, at time.Time) func(m routes) {
		c, id := pt.rogue(ctx, gw)
		h := hello{Version: ProtocolVersion, Proof: newRouteProof(id, "ctl", time.Now()),
			Routes: []kernel.NodeName{"leaf-5"}, Proofs: []*routeProof{newRouteProof(leaf, gw, at)}}
		if typ, p, err := rawCall(t, c, encode(tHello, h)); err != nil || typ != tHelloAck {
			t.Fatalf("%s hello: %d %q %v", gw, typ, p, err)
		}
		eventually(t, string(gw)+" linked", func() bool { return ctl.routeVia(gw) == gw })
		return func(m routes) {
			if typ, _, err := rawCall(t, c, encode(tRoutes, m)); err != nil || typ != tOK {
				t.Fatalf("%s routes: %d %v", gw, typ, err)
			}
		}
	}
	x := link("gw-x", time.Now())
	link("gw-y", time.Now().Add(-time.Hour)) // kept as a standby
	counting.Store(true)
	x(routes{Del: []kernel.NodeName{"leaf-5"}})
	counting.Store(false)
	if via := ctl.routeVia("leaf-5"); via != "gw-y" {
		t.Fatalf("leaf-5 routed through %q, want the standby gw-y", via)
	}
	if n := verifies.Load(); n != 0 {
		t.Errorf("%d certificates verified to take a standby claim", n)
	}
	// A revoked certificate's standby is not taken.
	z := link("gw-z", time.Now())
	link("gw-w", time.Now().Add(-2*time.Hour))
	_ = z
	revoked.Store(true)
	z(routes{Del: []kernel.NodeName{"leaf-5"}})
	if via := ctl.routeVia("leaf-5"); via == "gw-w" {
		t.Errorf("leaf-5 routed through gw-w with a revoked certificate")
	}
}
