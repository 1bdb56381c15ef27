package mesh

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/canopy-fleet/canopy/kernel"
	"github.com/canopy-fleet/canopy/mesh/frame"
	"github.com/canopy-fleet/canopy/mesh/identity"
	"github.com/canopy-fleet/canopy/mesh/link"
	"github.com/canopy-fleet/canopy/mesh/memnet"
	"github.com/canopy-fleet/canopy/mesh/quicnet"
)

// proofTree starts nodes over real QUIC with identities in their configs,
// as the agent does, and a controller that serves the cluster's authority
// (so every node checks route claims).
type proofTree struct {
	t     *testing.T
	ca    *testCA
	cut   *cutter
	start func(Config) *Node
	ids   map[kernel.NodeName]*identity.Node
	nodes map[kernel.NodeName]*Node
	base  Config
}

func newProofTree(t *testing.T) *proofTree {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	base := fastTimers
	base.HeartbeatInterval, base.LostAfter = 200*time.Millisecond, 2*time.Second
	base.RequestTimeout = 5 * time.Second
	return &proofTree{t: t, ca: newTestCA(t), cut: newCutter(), start: nodeStarter(t, ctx),
		ids: map[kernel.NodeName]*identity.Node{}, nodes: map[kernel.NodeName]*Node{}, base: base}
}

// node starts a node named name; a leaf when listen is false.
func (pt *proofTree) node(name kernel.NodeName, role kernel.Role, parents ...kernel.NodeName) *Node {
	pt.t.Helper()
	return pt.nodeWith(pt.ca.identity(pt.t, name, role), nil, parents...)
}

// nodeWith starts a node with identity id, its config changed by tweak
// (when set) before it starts; tweak also gets the node's network.
func (pt *proofTree) nodeWith(id *identity.Node, tweak func(*Config, *quicnet.Network), parents ...kernel.NodeName) *Node {
	t := pt.t
	t.Helper()
	name, role := id.Name, id.Role
	nw, err := quicnet.New(quicnet.Config{Identity: id, Revoked: pt.ca.auth.CA.IsRevoked, MaxIdleTimeout: 2 * time.Second, KeepAlivePeriod: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	cfg := pt.base
	cfg.Name, cfg.Role, cfg.Identity = name, role, id
	cfg.Network = cutNet{Network: nw, self: name, c: pt.cut}
	if role != kernel.RoleLeaf {
		cfg.Listen = "127.0.0.1:0"
	}
	for _, p := range parents {
		cfg.Parents = append(cfg.Parents, Parent{Addr: pt.nodes[p].Addr(), Name: p})
	}
	if tweak != nil {
		tweak(&cfg, nw)
	}
	n := pt.start(cfg)
	if role == kernel.RoleController {
		n.ServeIdentity(pt.ca.auth)
	}
	pt.ids[name], pt.nodes[name] = id, n
	n.Handle("who", func(context.Context, kernel.NodeName, []byte) ([]byte, error) { return []byte(name), nil })
	return n
}

// rogue links a raw connection with a valid gateway certificate under ctl.
func (pt *proofTree) rogue(ctx context.Context, name kernel.NodeName) (link.Conn, *identity.Node) {
	return pt.raw(ctx, name, kernel.RoleGateway, "ctl")
}

// raw dials node to with a new valid certificate for name and role, and
// returns the connection (closed when the test ends) and the identity.
func (pt *proofTree) raw(ctx context.Context, name kernel.NodeName, role kernel.Role, to kernel.NodeName) (link.Conn, *identity.Node) {
	t := pt.t
	t.Helper()
	id := pt.ca.identity(t, name, role)
	nw, err := quicnet.New(quicnet.Config{Identity: id})
	if err != nil {
		t.Fatal(err)
	}
	c, err := nw.Dial(ctx, pt.nodes[to].Addr(), to)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, id
}

func askWho(t *testing.T, n *Node, x kernel.NodeName) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if b, err := n.Request(ctx, x, "who", nil); err != nil || string(b) != string(x) {
		t.Fatalf("request to %s: %q %v", x, b, err)
	}
}

// A gateway (a valid gateway certificate: a compromised device) cannot
// draw a live node's traffic by claiming its name: the controller refuses
// the claim without a proof, with a forged proof, with the node's current
// proof (placed under another gateway) and with an older proof placing it
// under the rogue, so it keeps routing leaf-1 through gw-1 and requests
// reach the real leaf. A claim with a valid proof is taken.
func TestRouteProofsRefuseRogueClaims(t *testing.T) {
	pt := newProofTree(t)
	ctl := pt.node("ctl", kernel.RoleController)
	pt.node("gw-1", kernel.RoleGateway, "ctl")
	pt.node("leaf-1", kernel.RoleLeaf, "gw-1")
	eventually(t, "leaf-1 routed through gw-1", func() bool { return ctl.routeVia("leaf-1") == "gw-1" })
	askWho(t, ctl, "leaf-1")

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, rid := pt.rogue(ctx, "rogue")
	leaf := pt.ids["leaf-1"]
	// leaf-1 once linked under the rogue: a proof older than its link now.
	replayed := newRouteProof(leaf, "rogue", time.Now().Add(-time.Hour))
	// The rogue signs for leaf-1 with its own key and certificate, and with
	// leaf-1's certificate.
	ownCert := newRouteProof(rid, "rogue", time.Now())
	ownCert.Parent = "rogue"
	forged := *newRouteProof(rid, "rogue", time.Now())
	forged.Cert = leaf.Cert.Raw
	ctl.mu.Lock()
	current := *ctl.claims.proofs["leaf-1"] // the real proof, placing leaf-1 under gw-1
	ctl.mu.Unlock()
	// A node that did link under the rogue.
	legit := pt.ca.identity(t, "leaf-9", kernel.RoleLeaf)

	before := ctl.Stats().RouteClaimsRefused.Load()
	h := hello{Version: ProtocolVersion, Proof: newRouteProof(rid, "ctl", time.Now()),
		Routes: []kernel.NodeName{"leaf-1", "leaf-9"}, Proofs: []*routeProof{nil, newRouteProof(legit, "rogue", time.Now())}}
	if typ, p, err := rawCall(t, c, encode(tHello, h)); err != nil || typ != tHelloAck {
		t.Fatalf("rogue hello: %d %q %v", typ, p, err)
	}
	eventually(t, "rogue's own subtree routed", func() bool { return ctl.routeVia("leaf-9") == "rogue" })
	for _, pr := range []*routeProof{nil, ownCert, &forged, &current, replayed} {
		m := routes{Add: []kernel.NodeName{"leaf-1"}}
		if pr != nil {
			m.Proofs = []*routeProof{pr}
		}
		if typ, p, err := rawCall(t, c, encode(tRoutes, m)); err != nil || typ != tOK {
			t.Fatalf("rogue routes: %d %q %v", typ, p, err)
		}
		if via := ctl.routeVia("leaf-1"); via != "gw-1" {
			t.Fatalf("leaf-1 routed through %q after the rogue's claim", via)
		}
	}
	// The replayed proof in a hello, on a second link of another rogue.
	c2, rid2 := pt.rogue(ctx, "rogue-2")
	old2 := newRouteProof(leaf, "rogue-2", time.Now().Add(-time.Hour))
	h2 := hello{Version: ProtocolVersion, Proof: newRouteProof(rid2, "ctl", time.Now()), Routes: []kernel.NodeName{"leaf-1"}, Proofs: []*routeProof{old2}}
	if typ, p, err := rawCall(t, c2, encode(tHello, h2)); err != nil || typ != tHelloAck {
		t.Fatalf("rogue-2 hello: %d %q %v", typ, p, err)
	}
	eventually(t, "rogue-2 linked", func() bool { return ctl.routeVia("rogue-2") == "rogue-2" })
	if via := ctl.routeVia("leaf-1"); via != "gw-1" {
		t.Fatalf("leaf-1 routed through %q after a replayed proof", via)
	}
	if got := ctl.Stats().RouteClaimsRefused.Load() - before; got != 7 {
		t.Errorf("%d claims counted as refused, want 7", got)
	}
	askWho(t, ctl, "leaf-1")
}

// A node that moves from one gateway to another moves its route at the
// controller at once (its new proof is newer than the one held), while
// the old gateway's link is still live.
func TestRouteProofsFailover(t *testing.T) {
	pt := newProofTree(t)
	ctl := pt.node("ctl", kernel.RoleController)
	pt.node("gw-1", kernel.RoleGateway, "ctl")
	pt.node("gw-2", kernel.RoleGateway, "ctl")
	pt.node("leaf-1", kernel.RoleLeaf, "gw-1", "gw-2")
	eventually(t, "leaf-1 routed through gw-1", func() bool { return ctl.routeVia("leaf-1") == "gw-1" })
	pt.cut.block("leaf-1", "gw-1")
	eventually(t, "leaf-1 routed through gw-2", func() bool { return ctl.routeVia("leaf-1") == "gw-2" })
	askWho(t, ctl, "leaf-1")
	if n := ctl.Stats().RouteClaimsRefused.Load(); n != 0 {
		t.Errorf("%d claims refused in a failover", n)
	}
	// Back again, once gw-2 is cut off from it.
	pt.cut.unblock("leaf-1", "gw-1")
	pt.cut.block("leaf-1", "gw-2")
	eventually(t, "leaf-1 routed through gw-1 again", func() bool { return ctl.routeVia("leaf-1") == "gw-1" })
	askWho(t, ctl, "leaf-1")
}

// Nested gateways route: the leaf's proof places it under gw-b, which the
// controller routes through gw-a; so does gw-a's hello after it relinks
// (its subtree's claims in an order that places each after its parent).
func TestRouteProofsNested(t *testing.T) {
	pt := newProofTree(t)
	ctl := pt.node("ctl", kernel.RoleController)
	pt.node("gw-a", kernel.RoleGateway, "ctl")
	pt.node("gw-b", kernel.RoleGateway, "gw-a")
	pt.node("a-leaf", kernel.RoleLeaf, "gw-b") // sorts before gw-b: its claim needs gw-b's first
	eventually(t, "a-leaf routed through gw-a", func() bool { return ctl.routeVia("a-leaf") == "gw-a" })
	askWho(t, ctl, "a-leaf")
	askWho(t, pt.nodes["a-leaf"], "ctl")
	pt.cut.block("gw-a", "ctl")
	eventually(t, "gw-a lost", func() bool { return ctl.routeVia("a-leaf") == "" })
	pt.cut.unblock("gw-a", "ctl")
	eventually(t, "a-leaf routed again after gw-a relinked", func() bool { return ctl.routeVia("a-leaf") == "gw-a" })
	askWho(t, ctl, "a-leaf")
	if n := ctl.Stats().RouteClaimsRefused.Load(); n != 0 {
		t.Errorf("%d claims refused in a nested tree", n)
	}
}

// A node whose clock was set back (a device without a real-time clock,
// rebooted) makes a proof older than the one held for it: its claim
// through another gateway is refused while the old route is live, and
// kept, so it takes the route once the old gateway deletes it.
func TestRouteProofsStandbyTakesOver(t *testing.T) {
	pt := newProofTree(t)
	// Slow beats: the raw links below must count as live between steps.
	pt.base.HeartbeatInterval, pt.base.LostAfter = time.Second, 10*time.Second
	ctl := pt.node("ctl", kernel.RoleController)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	leaf := pt.ca.identity(t, "leaf-5", kernel.RoleLeaf)
	gx, xid := pt.rogue(ctx, "gw-x")
	gy, yid := pt.rogue(ctx, "gw-y")
	hx := hello{Version: ProtocolVersion, Proof: newRouteProof(xid, "ctl", time.Now()),
		Routes: []kernel.NodeName{"leaf-5"}, Proofs: []*routeProof{newRouteProof(leaf, "gw-x", time.Now())}}
	if typ, p, err := rawCall(t, gx, encode(tHello, hx)); err != nil || typ != tHelloAck {
		t.Fatalf("gw-x hello: %d %q %v", typ, p, err)
	}
	eventually(t, "leaf-5 routed through gw-x", func() bool { return ctl.routeVia("leaf-5") == "gw-x" })
	if typ, _, err := rawCall(t, gx, encode(tHeartbeat, heartbeat{Seq: 1})); err != nil || typ != tOK {
		t.Fatalf("gw-x heartbeat: %d %v", typ, err)
	}
	hy := hello{Version: ProtocolVersion, Proof: newRouteProof(yid, "ctl", time.Now()),
		Routes: []kernel.NodeName{"leaf-5"}, Proofs: []*routeProof{newRouteProof(leaf, "gw-y", time.Now().Add(-time.Hour))}}
	if typ, p, err := rawCall(t, gy, encode(tHello, hy)); err != nil || typ != tHelloAck {
		t.Fatalf("gw-y hello: %d %q %v", typ, p, err)
	}
	eventually(t, "gw-y linked", func() bool { return ctl.routeVia("gw-y") == "gw-y" })
	if via := ctl.routeVia("leaf-5"); via != "gw-x" {
		t.Fatalf("leaf-5 routed through %q: an older proof took a live route", via)
	}
	if typ, _, err := rawCall(t, gx, encode(tRoutes, routes{Del: []kernel.NodeName{"leaf-5"}})); err != nil || typ != tOK {
		t.Fatalf("gw-x routes: %d %v", typ, err)
	}
	if via := ctl.routeVia("leaf-5"); via != "gw-y" {
		t.Fatalf("leaf-5 routed through %q after gw-x let it go, want the claim kept from gw-y", via)
	}
}

// FuzzRouteClaims decodes arbitrary route messages and checks their
// proofs: bad input is an error, never a panic.
func FuzzRouteClaims(f *testing.F) {
	ca, err := identity.LoadOrCreateCA(f.TempDir(), nil)
	if err != nil {
		f.Fatal(err)
	}
	auth := &identity.Authority{CA: ca, Tokens: identity.NewTokens(nil)}
	id, err := auth.Issue(f.TempDir(), "leaf-1", kernel.RoleLeaf)
	if err != nil {
		f.Fatal(err)
	}
	good := newRouteProof(id, "gw-1", time.Unix(1700000000, 0))
	for _, m := range []routes{{Add: []kernel.NodeName{"leaf-1"}, Proofs: []*routeProof{good}}, {Add: []kernel.NodeName{"leaf-1", "x"}, Proofs: []*routeProof{nil, {Cert: []byte{1}}}}, {Del: []kernel.NodeName{"a"}}} {
		b, _ := frame.Marshal(m)
		f.Add(b)
	}
	hb, _ := frame.Marshal(hello{Version: ProtocolVersion, Proof: good, Routes: []kernel.NodeName{"leaf-1"}, Proofs: []*routeProof{good}})
	f.Add(hb)
	pb, _ := frame.Marshal(good)
	f.Add(pb)
	v := &identity.Verifier{CA: ca.Cert, Revoked: ca.IsRevoked}
	f.Fuzz(func(t *testing.T, b []byte) {
		var m routes
		if frame.Unmarshal(b, &m) == nil {
			for _, c := range verifyClaims(v, m.Add, m.Proofs) {
				if c.err == nil && (c.proof == nil || c.x != "leaf-1") {
					t.Fatalf("claim for %q taken with proof %+v", c.x, c.proof)
				}
			}
		}
		var h hello
		if frame.Unmarshal(b, &h) == nil && h.Proof != nil {
			_ = checkProof(v, "leaf-1", h.Proof)
		}
		var p routeProof // a fresh proof (tRouteProof)
		if frame.Unmarshal(b, &p) == nil && checkProof(v, "leaf-1", &p) == nil && !bytes.Equal(p.Cert, id.Cert.Raw) {
			t.Fatal("a proof with another certificate checks")
		}
	})
}

// A large subtree is sent in messages of at most maxRoutesPerMsg claims,
// each with its proofs, a node placed under another of the subtree after
// it: the parent takes each claim with its proof's parent routed.
func TestRouteClaimsChunkedInOrder(t *testing.T) {
	n, err := New(Config{Name: "gw", Role: kernel.RoleGateway, Network: memnet.NewFabric().Endpoint("gw", kernel.RoleGateway)})
	if err != nil {
		t.Fatal(err)
	}
	via := &peerLink{}
	n.claims.proofs = map[kernel.NodeName]*routeProof{}
	n.routes["zz-gw"] = via
	n.claims.proofs["zz-gw"] = &routeProof{Parent: "gw"}
	for i := 0; i < 600; i++ {
		x := kernel.NodeName(fmt.Sprintf("n-%03d", i))
		n.routes[x] = via
		n.claims.proofs[x] = &routeProof{Parent: "zz-gw", At: int64(i)}
	}
	up := &peerLink{}
	n.mu.Lock()
	sub := n.claimOrderLocked(n.subtreeLocked())
	n.enqueueRoutesLocked(up, sub, nil)
	n.mu.Unlock()
	if sub[0] != "zz-gw" {
		t.Fatalf("first claim %s, want zz-gw (the others' parent)", sub[0])
	}
	if len(up.ctrlQ) != 3 {
		t.Fatalf("%d messages, want 3", len(up.ctrlQ))
	}
	total := 0
	for _, m := range up.ctrlQ {
		r := m.v.(routes)
		if len(r.Add) > maxRoutesPerMsg || len(r.Proofs) != len(r.Add) {
			t.Fatalf("message with %d claims and %d proofs", len(r.Add), len(r.Proofs))
		}
		for i, x := range r.Add {
			if r.Proofs[i] != n.claims.proofs[x] {
				t.Fatalf("claim %s sent with another node's proof", x)
			}
		}
		total += len(r.Add)
	}
	if total != 601 {
		t.Fatalf("%d claims sent, want 601", total)
	}
}
