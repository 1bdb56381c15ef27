package mesh

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/canopy-fleet/canopy/kernel"
	"github.com/canopy-fleet/canopy/mesh/clock"
	"github.com/canopy-fleet/canopy/mesh/frame"
	"github.com/canopy-fleet/canopy/mesh/identity"
	"github.com/canopy-fleet/canopy/mesh/memnet"
)

// The root takes relayed joins from gateways only: a leaf relaying, a leaf
// showing a gateway's (public) certificate as its own, and a gateway whose
// certificate was revoked are refused before the token is looked at, so
// the token still works when a gateway relays it. A refusal reaches the
// device as the root's reason alone.
func TestRelayedJoinOnlyFromGateways(t *testing.T) {
	ca, ctx, start, ctl := identityRoot(t)
	gwID, badID := ca.identity(t, "gw-1", kernel.RoleGateway), ca.identity(t, "gw-3", kernel.RoleGateway)
	gw := start("gw-1", kernel.RoleGateway, ctl, gwID)
	bare := start("gw-2", kernel.RoleGateway, ctl, nil)
	revoked := start("gw-3", kernel.RoleGateway, ctl, badID)
	leaf := start("leaf-1", kernel.RoleLeaf, gw, ca.identity(t, "leaf-1", kernel.RoleLeaf))
	eventually(t, "the tree routed at the controller", func() bool {
		return ctl.Reaches("leaf-1") && ctl.Reaches("gw-2") && ctl.Reaches("gw-3")
	})
	if err := ca.auth.CA.Revoke(badID.Cert.SerialNumber); err != nil {
		t.Fatal(err)
	}

	key, err := identity.LoadOrCreateKey(filepath.Join(t.TempDir(), "node.key"))
	if err != nil {
		t.Fatal(err)
	}
	csr, err := identity.NewCSR(key, "dev-1")
	if err != nil {
		t.Fatal(err)
	}
	tok, err := ca.auth.Tokens.Create(kernel.RoleLeaf, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	refused := func(what, want string, err error) {
		t.Helper()
		if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "remote") {
			t.Fatalf("%s: %v, want a refusal naming %q", what, err, want)
		}
	}
	_, _, err = leaf.RelayJoin(ctx, tok, csr)
	refused("a leaf relaying", "gateways only, and leaf-1 is a leaf", err)
	_, _, err = revoked.RelayJoin(ctx, tok, csr)
	refused("a revoked gateway relaying", "revoked", err)
	_, _, err = bare.RelayJoin(ctx, tok, csr)
	refused("a gateway with no identity", "no identity", err)
	forged, _ := frame.Marshal(joinMsg{Token: tok, CSR: csr, Via: gwID.Cert.Raw})
	_, err = leaf.Request(ctx, "", kindJoin, forged)
	if err == nil || !strings.Contains(err.Error(), "names another node") {
		t.Fatalf("a leaf showing the gateway's certificate: %v", err)
	}
	noVia, _ := frame.Marshal(joinMsg{Token: tok, CSR: csr})
	_, err = gw.Request(ctx, "", kindJoin, noVia)
	if err == nil || !strings.Contains(err.Error(), "showed no certificate") {
		t.Fatalf("a relay with no certificate: %v", err)
	}

	// The token was never looked at: the gateway relays it, once.
	certDER, caDER, err := gw.RelayJoin(ctx, tok, csr)
	if err != nil {
		t.Fatal(err)
	}
	id, err := identity.NewNode(key, certDER, caDER)
	if err != nil || id.Name != "dev-1" || id.Role != kernel.RoleLeaf {
		t.Fatalf("joined as %+v, %v", id, err)
	}
	_, _, err = gw.RelayJoin(ctx, tok, csr)
	refused("a replayed token", "already used", err)
}

// treeStarter returns a function that starts a node on f with id, under
// parent (nil for the root), listening unless it is a leaf, and closes it
// at the test's end.
// identityRoot starts a memnet tree's controller serving identity (joins,
// renewals, revocations) from a test CA; start adds nodes below it.
func identityRoot(t *testing.T) (*testCA, context.Context, func(kernel.NodeName, kernel.Role, *Node, *identity.Node) *Node, *Node) {
	ca := newTestCA(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	start := treeStarter(t, ctx, memnet.NewFabric())
	ctl := start("ctl", kernel.RoleController, nil, nil)
	ctl.ServeIdentity(ca.auth)
	return ca, ctx, start, ctl
}

func treeStarter(t *testing.T, ctx context.Context, f *memnet.Fabric) func(name kernel.NodeName, role kernel.Role, parent *Node, id *identity.Node) *Node {
	return func(name kernel.NodeName, role kernel.Role, parent *Node, id *identity.Node) *Node {
		t.Helper()
		cfg := Config{Name: name, Role: role, Network: f.Endpoint(name, role), Identity: id, Logger: testLogger()}
		if role != kernel.RoleLeaf {
			cfg.Listen = memListen(name)
		}
		if parent != nil {
			cfg.Parents = []Parent{{Addr: parent.Addr(), Name: parent.cfg.Name}}
		}
		return nodeStarter(t, ctx)(cfg)
	}
}

// A gateway relays with the certificate it holds now: after a renewal the
// old one can be revoked and joins through the gateway still work.
func TestRelayJoinShowsRenewedCertificate(t *testing.T) {
	ca := newTestCA(t)
	ca.auth.CertTTL = time.Hour
	f := memnet.NewFabric()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ctl, err := New(Config{Name: "ctl", Role: kernel.RoleController, Network: f.Endpoint("ctl", kernel.RoleController), Listen: memListen("ctl"), Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	ctl.ServeIdentity(ca.auth)
	if err := ctl.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer ctl.Close()
	old := ca.identity(t, "gw-1", kernel.RoleGateway)
	clk := clock.NewFake(time.Now())
	renewed := make(chan *identity.Node, 1)
	gw, err := New(Config{Name: "gw-1", Role: kernel.RoleGateway, Network: f.Endpoint("gw-1", kernel.RoleGateway), Listen: memListen("gw-1"),
		Parents: []Parent{{Addr: ctl.Addr(), Name: "ctl"}}, Logger: testLogger(), Identity: old, Clock: clk, RenewCheck: time.Minute,
		HeartbeatInterval: time.Hour, LostAfter: 3 * time.Hour, ReportInterval: 10 * time.Hour, OnRenewed: func(n *identity.Node) { renewed <- n }})
	if err != nil {
		t.Fatal(err)
	}
	if err := gw.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer gw.Close()
	if err := gw.WaitParent(ctx); err != nil {
		t.Fatal(err)
	}
	if awaitRenewal(ctx, clk, renewed) == nil {
		t.Fatal("gateway certificate not renewed")
	}
	if err := ca.auth.CA.Revoke(old.Cert.SerialNumber); err != nil {
		t.Fatal(err)
	}
	key, err := identity.LoadOrCreateKey(filepath.Join(t.TempDir(), "node.key"))
	if err != nil {
		t.Fatal(err)
	}
	csr, _ := identity.NewCSR(key, "dev-1")
	tok, _ := ca.auth.Tokens.Create(kernel.RoleLeaf, time.Minute)
	if _, _, err := gw.RelayJoin(ctx, tok, csr); err != nil {
		t.Fatalf("join relayed after the gateway's renewal: %v", err)
	}
}

// awaitRenewal moves clk 45 minutes on (of a one-hour certificate), then a
// minute (RenewCheck) at a time until the node reports its renewal: the
// renewal loop may start waiting on the fake clock only after the first
// step, and a timer made after an Advance would never fire. It returns nil
// when ctx ends first.
func awaitRenewal(ctx context.Context, clk *clock.Fake, renewed <-chan *identity.Node) *identity.Node {
	clk.Advance(45 * time.Minute)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case n := <-renewed:
			return n
		case <-ctx.Done():
			return nil
		case <-tick.C:
			clk.Advance(time.Minute)
		}
	}
}
