package mesh

import (
	"context"
	"testing"
	"time"

	"github.com/canopy-fleet/canopy/kernel"
	"github.com/canopy-fleet/canopy/mesh/quicnet"
)

// A gateway deleted from the cluster (its certificate revoked) is refused
// by every parent; it lets its children go, and refuses them, so that they
// fail over to another gateway rather than staying below one that reaches
// nothing.
func TestRevokedGatewayLetsItsChildrenGo(t *testing.T) {
	ca := newTestCA(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := nodeStarter(t, ctx)
	ctlNet, _ := quicnet.New(quicnet.Config{Identity: ca.identity(t, "ctl", kernel.RoleController), Revoked: ca.auth.CA.IsRevoked})
	ctl := start(Config{Name: "ctl", Role: kernel.RoleController, Network: ctlNet, Listen: "127.0.0.1:0"})
	gw1ID := ca.identity(t, "gw-1", kernel.RoleGateway)
	gw1Net, _ := quicnet.New(quicnet.Config{Identity: gw1ID})
	gw1 := start(Config{Name: "gw-1", Role: kernel.RoleGateway, Network: gw1Net, Listen: "127.0.0.1:0", Parents: []Parent{{Addr: ctl.Addr(), Name: "ctl"}},
		ReconnectMax: 100 * time.Millisecond})
	gw2Net, _ := quicnet.New(quicnet.Config{Identity: ca.identity(t, "gw-2", kernel.RoleGateway)})
	gw2 := start(Config{Name: "gw-2", Role: kernel.RoleGateway, Network: gw2Net, Listen: "127.0.0.1:0", Parents: []Parent{{Addr: ctl.Addr(), Name: "ctl"}}})
	leafNet, _ := quicnet.New(quicnet.Config{Identity: ca.identity(t, "leaf-1", kernel.RoleLeaf)})
	leaf := start(Config{Name: "leaf-1", Role: kernel.RoleLeaf, Network: leafNet,
		Parents: []Parent{{Addr: gw1.Addr(), Name: "gw-1"}, {Addr: gw2.Addr(), Name: "gw-2"}}, ReconnectMax: 100 * time.Millisecond})
	eventually(t, "the leaf under gw-1", func() bool { return leaf.Parent() == "gw-1" && ctl.Reaches("leaf-1") })

	if err := ca.auth.CA.Revoke(gw1ID.Cert.SerialNumber); err != nil {
		t.Fatal(err)
	}
	ctl.Revoked([]string{gw1ID.Cert.SerialNumber.Text(16)})
	eventually(t, "gw-1 refused by its parent", func() bool { return gw1.Stats().CertificateRefusals.Load() > 0 })
	eventually(t, "the leaf failed over to gw-2", func() bool { return leaf.Parent() == "gw-2" && ctl.Reaches("leaf-1") })
}
