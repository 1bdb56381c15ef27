package mesh

import (
	"context"
	"math/big"
	"sync"
	"testing"
	"time"

	"github.com/canopy-fleet/canopy/kernel"
	"github.com/canopy-fleet/canopy/mesh/identity"
)

// A node cut off while a child's hello is being checked does not keep
// that child: setCutOff drops the children it has, and the hello, taken
// after, is refused (cut-off), so the child links elsewhere instead of
// staying under a node with nothing above it.
func TestCutOffDuringHello(t *testing.T) {
	pt := newProofTree(t)
	pt.node("ctl", kernel.RoleController)
	gw := pt.node("gw", kernel.RoleGateway, "ctl")
	eventually(t, "gw linked", func() bool { return gw.Parent() == "ctl" })
	var once sync.Once
	gw.mu.Lock()
	v := gw.claimVerifierLocked()
	gw.claims.verifier = &identity.Verifier{CA: v.CA, Now: v.Now, Revoked: func(*big.Int) bool {
		once.Do(func() { gw.setCutOff(true) }) // every parent refused gw, while the hello is checked
		return false
	}}
	gw.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, id := pt.raw(ctx, "leaf-1", kernel.RoleLeaf, "gw")
	typ, p, err := rawCall(t, c, encode(tHello, hello{Version: ProtocolVersion, Proof: newRouteProof(id, "gw", time.Now())}))
	if code := errCode(t, typ, p, err); code != CodeCutOff {
		t.Errorf("hello to a node cut off while checking it: %q, want %q", code, CodeCutOff)
	}
	if via := gw.routeVia("leaf-1"); via != "" {
		t.Errorf("leaf-1 kept as a child of a node cut off")
	}
}
