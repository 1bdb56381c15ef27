package mesh

import (
	"context"
	"fmt"
	"math/big"
	"sync/atomic"
	"testing"
	"time"

	"github.com/canopy-fleet/canopy/kernel"
	"github.com/canopy-fleet/canopy/mesh/identity"
)

// A leaf's route claims are refused whatever their proofs: its hello's
// are not checked (a certificate check each), so a leaf cannot make its
// parent check a thousand certificates per hello by filling it with
// claims.
func TestLeafHelloClaimsNotChecked(t *testing.T) {
	pt := newProofTree(t)
	ctl := pt.node("ctl", kernel.RoleController)
	var checks atomic.Int64
	ctl.mu.Lock()
	v := ctl.claimVerifierLocked()
	ctl.claims.verifier = &identity.Verifier{CA: v.CA, Now: v.Now, Revoked: func(s *big.Int) bool {
		checks.Add(1)
		return v.Revoked(s)
	}}
	ctl.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, id := pt.raw(ctx, "leaf-1", kernel.RoleLeaf, "ctl")
	h := hello{Version: ProtocolVersion, Proof: newRouteProof(id, "ctl", time.Now())}
	for i := 0; i < 50; i++ {
		h.Routes = append(h.Routes, kernel.NodeName(fmt.Sprintf("x-%d", i)))
		h.Proofs = append(h.Proofs, newRouteProof(id, "leaf-1", time.Now()))
	}
	if typ, p, err := rawCall(t, c, encode(tHello, h)); err != nil || typ != tHelloAck {
		t.Fatalf("leaf hello: %d %q %v", typ, p, err)
	}
	eventually(t, "leaf-1 linked", func() bool { return ctl.routeVia("leaf-1") == "leaf-1" })
	if n := checks.Load(); n > 1 {
		t.Errorf("%d certificates checked for a leaf's hello, want 1 (its own proof)", n)
	}
	if via := ctl.routeVia("x-1"); via != "" {
		t.Errorf("a leaf's claim taken (via %q)", via)
	}
}
