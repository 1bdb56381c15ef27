package mesh

import (
	"context"
	"testing"
	"time"

	"github.com/canopy-fleet/canopy/kernel"
	"github.com/canopy-fleet/canopy/mesh/identity"
	"github.com/canopy-fleet/canopy/mesh/quicnet"
)

// Revoked at the root reaches every level at once, not at the next
// RenewCheck (an hour here): the root drops its own revoked child, the
// news passes gateway to gateway, and the gateway two levels down drops
// its revoked leaf. The others stay linked.
func TestRevokedNewsReachesNestedGateways(t *testing.T) {
	ca := newTestCA(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	startNode := nodeStarter(t, ctx)
	start := func(cfg Config) *Node {
		cfg.ReconnectMax = 100 * time.Millisecond
		return startNode(cfg)
	}
	ctlNet, _ := quicnet.New(quicnet.Config{Identity: ca.identity(t, "ctl", kernel.RoleController), Revoked: ca.auth.CA.IsRevoked})
	ctlEvents := newEvents()
	ctl := start(Config{Name: "ctl", Role: kernel.RoleController, Network: ctlNet, Listen: "127.0.0.1:0", OnEvent: ctlEvents.add})
	ctl.ServeIdentity(ca.auth)
	gateway := func(name kernel.NodeName, parent *Node, evs *events) *Node {
		revs := &identity.Revocations{}
		id := ca.identity(t, name, kernel.RoleGateway)
		nw, _ := quicnet.New(quicnet.Config{Identity: id, Revoked: revs.IsRevoked})
		return start(Config{Name: name, Role: kernel.RoleGateway, Network: nw, Listen: "127.0.0.1:0", Parents: []Parent{{Addr: parent.Addr()}},
			Identity: id, Revocations: revs, RenewCheck: time.Hour, OnEvent: evs.add})
	}
	leaf := func(name kernel.NodeName, parent *Node) *identity.Node {
		id := ca.identity(t, name, kernel.RoleLeaf)
		nw, _ := quicnet.New(quicnet.Config{Identity: id})
		start(Config{Name: name, Role: kernel.RoleLeaf, Network: nw, Parents: []Parent{{Addr: parent.Addr()}}, Identity: id})
		return id
	}
	gw1 := gateway("gw-1", ctl, newEvents())
	gw2Events := newEvents()
	gw2 := gateway("gw-2", gw1, gw2Events)
	direct := leaf("leaf-0", ctl)
	deep := leaf("leaf-1", gw2)
	leaf("leaf-2", gw2)
	for _, name := range []kernel.NodeName{"gw-2", "leaf-0", "leaf-1", "leaf-2"} {
		eventually(t, string(name)+" routed at the controller", func() bool { return ctl.Reaches(name) })
	}

	var serials []string
	for _, id := range []*identity.Node{direct, deep} {
		if err := ca.auth.CA.Revoke(id.Cert.SerialNumber); err != nil {
			t.Fatal(err)
		}
		serials = append(serials, id.Cert.SerialNumber.Text(16))
	}
	ctl.Revoked(serials)
	eventually(t, "the controller drops its revoked child", func() bool { return ctlEvents.count(EventChildLost, "leaf-0") > 0 })
	eventually(t, "the nested gateway drops its revoked child", func() bool { return gw2Events.count(EventChildLost, "leaf-1") > 0 })
	if !ctl.Reaches("leaf-2") || !ctl.Reaches("gw-2") {
		t.Fatal("a node that was not revoked lost its route")
	}
}
