package mesh

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/canopy-fleet/canopy/kernel"
	"github.com/canopy-fleet/canopy/mesh/frame"
	"github.com/canopy-fleet/canopy/mesh/identity"
	"github.com/canopy-fleet/canopy/mesh/memnet"
)

// The root takes a relayed join only with the relaying gateway's signature
// over it: a node that can send in a gateway's name (here gw-1, which speaks
// for gw-2 below it) and shows that gateway's public certificate is
// refused, and the token stays unused.
func TestRelayedJoinNeedsTheGatewaysSignature(t *testing.T) {
	ca := newTestCA(t)
	f := memnet.NewFabric()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	start := func(name kernel.NodeName, role kernel.Role, parent *Node, id *identity.Node) *Node {
		t.Helper()
		cfg := Config{Name: name, Role: role, Network: f.Endpoint(name, role), Identity: id, Logger: testLogger(), Listen: memListen(name)}
		if parent != nil {
			cfg.Parents = []Parent{{Addr: parent.Addr(), Name: parent.cfg.Name}}
		}
		n, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := n.Start(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { n.Close() })
		return n
	}
	ctl := start("ctl", kernel.RoleController, nil, nil)
	ctl.ServeIdentity(ca.auth)
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
