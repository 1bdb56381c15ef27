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

// A renewal is for the key the certificate holds: a node that can send in
// another's name (a gateway for its subtree) and shows that node's
// certificate (public: every handshake shows it) does not get a
// certificate of that name for a key of its own.
func TestRenewKeepsTheCertificatesKey(t *testing.T) {
	ca := newTestCA(t)
	f := memnet.NewFabric()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	start := func(name kernel.NodeName, role kernel.Role, parent *Node, id *identity.Node) *Node {
		t.Helper()
		cfg := Config{Name: name, Role: role, Network: f.Endpoint(name, role), Identity: id, Logger: testLogger()}
		if role != kernel.RoleLeaf {
			cfg.Listen = memListen(name)
		}
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
