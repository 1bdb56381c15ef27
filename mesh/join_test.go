package mesh

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/canopy-fleet/canopy/kernel"
	"github.com/canopy-fleet/canopy/mesh/clock"
	"github.com/canopy-fleet/canopy/mesh/identity"
	"github.com/canopy-fleet/canopy/mesh/quicnet"
)

// A device joins through a gateway (which relays the join to the
// controller's authority), links with its new certificate, and renews it
// through the tree; renewal for another node's name is refused.
func TestJoinThroughGatewayAndRenew(t *testing.T) {
	ca := newTestCA(t)
	ca.auth.CertTTL = time.Hour
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ids := map[kernel.NodeName]*identity.Node{}
	mk := func(name kernel.NodeName, role kernel.Role, join quicnet.JoinFunc) *quicnet.Network {
		ids[name] = ca.identity(t, name, role)
		nw, err := quicnet.New(quicnet.Config{Identity: ids[name], Revoked: ca.auth.CA.IsRevoked, Join: join})
		if err != nil {
			t.Fatal(err)
		}
		return nw
	}
	start := nodeStarter(t, ctx)
	ctl := start(Config{Name: "ctl", Role: kernel.RoleController, Network: mk("ctl", kernel.RoleController, nil), Listen: "127.0.0.1:0"})
	ctl.ServeIdentity(ca.auth)
	var gw *Node
	gwNet := mk("gw-1", kernel.RoleGateway, func(ctx context.Context, tok string, csr []byte) ([]byte, []byte, error) {
		return gw.RelayJoin(ctx, tok, csr)
	})
	gw = start(Config{Name: "gw-1", Role: kernel.RoleGateway, Network: gwNet, Listen: "127.0.0.1:0", Parents: []Parent{{Addr: ctl.Addr(), Name: "ctl"}}, Identity: ids["gw-1"]})
	if err := gw.WaitParent(ctx); err != nil {
		t.Fatal(err)
	}

	// The device makes its key, joins through the gateway with a token and
	// the CA pin.
	key, err := identity.LoadOrCreateKey(filepath.Join(t.TempDir(), "node.key"))
	if err != nil {
		t.Fatal(err)
	}
	tok, _ := ca.auth.Tokens.Create(kernel.RoleLeaf, time.Minute)
	id, err := quicnet.Join(ctx, quicnet.JoinRequest{Addr: gw.Addr(), CAHash: ca.auth.CA.Hash(), Token: tok, Name: "dev-1", Key: key})
	if err != nil {
		t.Fatal(err)
	}
	if id.Name != "dev-1" || id.Role != kernel.RoleLeaf {
		t.Fatalf("joined as %s/%s", id.Name, id.Role)
	}
	if _, err := quicnet.Join(ctx, quicnet.JoinRequest{Addr: gw.Addr(), CAHash: ca.auth.CA.Hash(), Token: tok, Name: "dev-2", Key: key}); err == nil || !strings.Contains(err.Error(), "already used") {
		t.Fatalf("replayed token through the gateway: %v", err)
	}
	devNet, err := quicnet.New(quicnet.Config{Identity: id})
	if err != nil {
		t.Fatal(err)
	}
	var renewed chan *identity.Node = make(chan *identity.Node, 1)
	clk := clock.NewFake(time.Now())
	dev := start(Config{Name: "dev-1", Role: kernel.RoleLeaf, Network: devNet, Parents: []Parent{{Addr: gw.Addr(), Name: "gw-1"}},
		Identity: id, Clock: clk, RenewCheck: time.Minute, HeartbeatInterval: time.Hour, LostAfter: 3 * time.Hour, ReportInterval: 10 * time.Hour,
		OnRenewed: func(n *identity.Node) { devNet.SetIdentity(n); renewed <- n }})
	if err := dev.WaitParent(ctx); err != nil {
		t.Fatal(err)
	}
	eventually(t, "controller routes the new device", func() bool { return ctl.Reaches("dev-1") })

	// 45 of 60 minutes later the certificate is renewed through the tree.
	n2 := awaitRenewal(ctx, clk, renewed)
	if n2 == nil {
		t.Fatal("certificate not renewed")
	}
	if n2.Name != "dev-1" || n2.Role != kernel.RoleLeaf || n2.Cert.NotAfter.Before(id.Cert.NotAfter) || n2.Cert.SerialNumber.Cmp(id.Cert.SerialNumber) == 0 {
		t.Fatalf("renewed %s/%s until %v (was %v)", n2.Name, n2.Role, n2.Cert.NotAfter, id.Cert.NotAfter)
	}
	// The gateway cannot renew the device's certificate for itself.
	if _, err := gw.Renew(ctx, id); err == nil {
		t.Fatal("renewal of another node's certificate accepted")
	}
}

// A certificate revoked at the controller reaches the gateways: the
// gateway disconnects the child and refuses it from then on.
func TestRevocationReachesGateways(t *testing.T) {
	ca := newTestCA(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	start := nodeStarter(t, ctx)
	ctlNet, _ := quicnet.New(quicnet.Config{Identity: ca.identity(t, "ctl", kernel.RoleController), Revoked: ca.auth.CA.IsRevoked})
	ctl := start(Config{Name: "ctl", Role: kernel.RoleController, Network: ctlNet, Listen: "127.0.0.1:0"})
	ctl.ServeIdentity(ca.auth)
	revs := &identity.Revocations{}
	gwID := ca.identity(t, "gw-1", kernel.RoleGateway)
	gwNet, _ := quicnet.New(quicnet.Config{Identity: gwID, Revoked: revs.IsRevoked})
	evs := newEvents()
	gw := start(Config{Name: "gw-1", Role: kernel.RoleGateway, Network: gwNet, Listen: "127.0.0.1:0", Parents: []Parent{{Addr: ctl.Addr()}},
		Identity: gwID, Revocations: revs, RenewCheck: 50 * time.Millisecond, OnEvent: evs.add})
	leafID := ca.identity(t, "leaf-1", kernel.RoleLeaf)
	leafNet, _ := quicnet.New(quicnet.Config{Identity: leafID})
	leaf := start(Config{Name: "leaf-1", Role: kernel.RoleLeaf, Network: leafNet, Parents: []Parent{{Addr: gw.Addr()}}, ReconnectMax: 100 * time.Millisecond, Identity: leafID})
	eventually(t, "leaf routed at the controller", func() bool { return ctl.Reaches("leaf-1") })

	if err := ca.auth.CA.Revoke(leafID.Cert.SerialNumber); err != nil {
		t.Fatal(err)
	}
	eventually(t, "gateway drops the revoked child", func() bool { return evs.count(EventChildLost, "leaf-1") > 0 })
	// The leaf learns why it cannot link again: its parent refuses its
	// certificate (link.ErrCertificateRefused, from the TLS alert).
	eventually(t, "the leaf counts its certificate refused", func() bool { return leaf.Stats().CertificateRefusals.Load() > 0 })
	time.Sleep(500 * time.Millisecond) // the leaf keeps retrying; every try is refused
	if leaf.Parent() != "" || ctl.Reaches("leaf-1") {
		t.Fatalf("revoked leaf linked again (parent %q)", leaf.Parent())
	}
	evs.mu.Lock()
	defer evs.mu.Unlock()
	for _, e := range evs.ev {
		if e.Kind == EventChildLost && e.Peer == "leaf-1" && e.Reason != "certificate revoked" {
			t.Fatalf("lost for %q", e.Reason)
		}
	}
}

// nodeStarter returns a function that makes and starts a node on ctx
// (logging to the test), closed when the test ends.
func nodeStarter(t *testing.T, ctx context.Context) func(Config) *Node {
	return func(cfg Config) *Node {
		t.Helper()
		if cfg.Logger == nil {
			cfg.Logger = testLogger()
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
}
