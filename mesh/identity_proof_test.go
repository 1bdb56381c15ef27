package mesh

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/canopy-fleet/canopy/kernel"
	"github.com/canopy-fleet/canopy/mesh/frame"
	"github.com/canopy-fleet/canopy/mesh/identity"
)

// A renewal is for the key the certificate holds: a node that can send in
// another's name (a gateway for its subtree) and shows that node's
// certificate (public: every handshake shows it) does not get a
// certificate of that name for a key of its own.
func TestRenewKeepsTheCertificatesKey(t *testing.T) {
	ca, ctx, start, ctl := identityRoot(t)
	gw := start("gw-1", kernel.RoleGateway, ctl, ca.identity(t, "gw-1", kernel.RoleGateway))
	leafID := ca.identity(t, "leaf-1", kernel.RoleLeaf)
	leaf := start("leaf-1", kernel.RoleLeaf, gw, leafID)
	eventually(t, "the tree routed at the controller", func() bool { return ctl.Reaches("leaf-1") })

	other, err := identity.LoadOrCreateKey(filepath.Join(t.TempDir(), "other.key"))
	if err != nil {
		t.Fatal(err)
	}
	csr, err := identity.NewCSR(other, "leaf-1")
	if err != nil {
		t.Fatal(err)
	}
	body, err := frame.Marshal(renewMsg{Cert: leafID.Cert.Raw, CSR: csr})
	if err != nil {
		t.Fatal(err)
	}
	// The gateway speaks for leaf-1, which is in its subtree.
	_, err = gw.route(ctx, envelope{Src: "leaf-1", Kind: kindRenew, Body: body}, true)
	if err == nil || !strings.Contains(err.Error(), "key") {
		t.Fatalf("renewal of leaf-1's certificate for another key: %v, want it refused", err)
	}
	// leaf-1 itself renews.
	n, err := leaf.Renew(ctx, leafID)
	if err != nil || n.Name != "leaf-1" || n.Role != kernel.RoleLeaf {
		t.Fatalf("renewal by leaf-1: %+v, %v", n, err)
	}
}

// The root takes a relayed join only with the relaying gateway's signature
// over it: a node that can send in a gateway's name (here gw-1, which speaks
// for gw-2 below it) and shows that gateway's public certificate is
// refused, and the token stays unused.
func TestRelayedJoinNeedsTheGatewaysSignature(t *testing.T) {
	ca, ctx, start, ctl := identityRoot(t)
	gw1 := start("gw-1", kernel.RoleGateway, ctl, ca.identity(t, "gw-1", kernel.RoleGateway))
	gw2ID := ca.identity(t, "gw-2", kernel.RoleGateway)
	gw2 := start("gw-2", kernel.RoleGateway, gw1, gw2ID)
	eventually(t, "the tree routed at the controller", func() bool { return ctl.Reaches("gw-2") })

	key, err := identity.LoadOrCreateKey(filepath.Join(t.TempDir(), "node.key"))
	if err != nil {
		t.Fatal(err)
	}
	csr, _ := identity.NewCSR(key, "dev-1")
	tok, _ := ca.auth.Tokens.Create(kernel.RoleLeaf, time.Minute)
	// gw-1 sends as gw-2 (in its subtree) with gw-2's certificate but
	// without gw-2's key.
	forged, _ := frame.Marshal(joinMsg{Token: tok, CSR: csr, Via: gw2ID.Cert.Raw})
	_, err = gw1.route(ctx, envelope{Src: "gw-2", Kind: kindJoin, Body: forged}, true)
	if err == nil || !strings.Contains(err.Error(), "signature") {
		t.Fatalf("a join relayed in gw-2's name without its key: %v, want it refused for the signature", err)
	}
	// gw-2 itself relays it: the token was not used up.
	if _, _, err := gw2.RelayJoin(ctx, tok, csr); err != nil {
		t.Fatalf("join relayed by gw-2: %v", err)
	}
}
