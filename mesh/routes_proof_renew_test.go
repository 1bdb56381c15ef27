package mesh

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/canopy-fleet/canopy/kernel"
	"github.com/canopy-fleet/canopy/mesh/identity"
	"github.com/canopy-fleet/canopy/mesh/quicnet"
)

// heldProofCert is the certificate of the proof n holds for x, nil when
// it holds none.
func (n *Node) heldProofCert(x kernel.NodeName) []byte {
	n.mu.Lock()
	defer n.mu.Unlock()
	if p := n.claims.proofs[x]; p != nil {
		return p.Cert
	}
	return nil
}

// A node that renews its certificate while it stays linked sends its
// parent a fresh proof with the new certificate, and every level above
// holds it: once the old certificate has expired, a gateway above it that
// relinks re-sends a proof that still checks, and the controller routes
// the node again.
func TestRouteProofRefreshedOnRenewal(t *testing.T) {
	pt := newProofTree(t)
	ctl := pt.node("ctl", kernel.RoleController)
	gw := pt.node("gw-a", kernel.RoleGateway, "ctl")

	// The leaf's first certificate lasts a few seconds (its renewal, from
	// the controller's authority, lasts the default 30 days): it asks for
	// renewal as soon as it is linked, and expires while it stays linked.
	short := &identity.Authority{CA: pt.ca.auth.CA, Tokens: identity.NewTokens(nil), CertTTL: 8 * time.Second}
	first, err := short.Issue(t.TempDir(), "leaf", kernel.RoleLeaf)
	if err != nil {
		t.Fatal(err)
	}
	renewed := make(chan *identity.Node, 4)
	pt.nodeWith(first, func(c *Config, nw *quicnet.Network) {
		c.RenewCheck = 100 * time.Millisecond
		c.OnRenewed = func(id *identity.Node) {
			nw.SetIdentity(id) // as the agent does
			renewed <- id
		}
	}, "gw-a")
	eventually(t, "leaf routed through gw-a", func() bool { return ctl.routeVia("leaf") == "gw-a" })
	gw.mu.Lock()
	linked := gw.children["leaf"]
	gw.mu.Unlock()

	var second *identity.Node
	select {
	case second = <-renewed:
	case <-time.After(30 * time.Second):
		t.Fatal("the leaf did not renew its certificate")
	}
	if bytes.Equal(second.Cert.Raw, first.Cert.Raw) {
		t.Fatal("renewal returned the same certificate")
	}
	// Each level replaces the proof it holds, while the leaf stays linked.
	for _, n := range []*Node{gw, ctl} {
		eventually(t, string(n.cfg.Name)+" holds the leaf's renewed proof", func() bool {
			return bytes.Equal(n.heldProofCert("leaf"), second.Cert.Raw)
		})
	}
	// Wait (real time: certificates expire by the wall clock) until the
	// first certificate has expired.
	for time.Now().Before(first.Cert.NotAfter.Add(time.Second)) {
		time.Sleep(100 * time.Millisecond)
	}
	pt.cut.block("gw-a", "ctl")
	eventually(t, "gw-a lost", func() bool { return ctl.routeVia("leaf") == "" })
	pt.cut.unblock("gw-a", "ctl")
	eventually(t, "gw-a relinked", func() bool { return ctl.routeVia("gw-a") == "gw-a" })
	eventually(t, "leaf routed again after gw-a relinked", func() bool { return ctl.routeVia("leaf") == "gw-a" })
	askWho(t, ctl, "leaf")
	for _, n := range []*Node{ctl, gw} {
		if got := n.Stats().RouteClaimsRefused.Load(); got != 0 {
			t.Errorf("%s refused %d route claims", n.cfg.Name, got)
		}
		if !bytes.Equal(n.heldProofCert("leaf"), second.Cert.Raw) {
			t.Errorf("%s does not hold the leaf's proof with its renewed certificate", n.cfg.Name)
		}
	}
	gw.mu.Lock()
	still := gw.children["leaf"] == linked
	gw.mu.Unlock()
	if !still {
		t.Error("the leaf relinked: the test wants it to stay linked through its renewal")
	}
}

// A child's fresh proof is checked as its hello's is: one that is not
// newer than the held one, places the child under another node, or is
// signed with another node's certificate is refused with an error and
// counted; a valid newer one replaces the held proof.
func TestRouteProofRefreshChecked(t *testing.T) {
	pt := newProofTree(t)
	// Slow beats: the raw link below must stay linked between steps.
	pt.base.HeartbeatInterval, pt.base.LostAfter = time.Second, 10*time.Second
	ctl := pt.node("ctl", kernel.RoleController)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, rid := pt.rogue(ctx, "gw-r")
	now := time.Now()
	h := hello{Version: ProtocolVersion, Proof: newRouteProof(rid, "ctl", now)}
	if typ, p, err := rawCall(t, c, encode(tHello, h)); err != nil || typ != tHelloAck {
		t.Fatalf("hello: %d %q %v", typ, p, err)
	}
	eventually(t, "gw-r linked", func() bool { return ctl.routeVia("gw-r") == "gw-r" })
	other := pt.ca.identity(t, "leaf-x", kernel.RoleLeaf)
	foreign := newRouteProof(other, "ctl", now.Add(time.Minute))
	foreign.Cert = other.Cert.Raw
	for _, bad := range []*routeProof{
		newRouteProof(rid, "ctl", now.Add(-time.Hour)),   // older than the held one
		newRouteProof(rid, "ctl", now),                   // the same time
		newRouteProof(rid, "gw-1", now.Add(time.Minute)), // under another node
		foreign, // another node's
		{Cert: rid.Cert.Raw, Parent: "ctl", At: now.Add(time.Minute).UnixNano(), Sig: []byte("no")}, // a bad signature
	} {
		if typ, p, err := rawCall(t, c, encode(tRouteProof, bad)); err != nil || typ != tError {
			t.Fatalf("bad proof %+v: reply %d %q %v, want an error", bad, typ, p, err)
		}
	}
	if got := ctl.Stats().RouteClaimsRefused.Load(); got != 5 {
		t.Errorf("%d refusals counted, want 5", got)
	}
	good := newRouteProof(rid, "ctl", now.Add(time.Minute))
	if typ, p, err := rawCall(t, c, encode(tRouteProof, good)); err != nil || typ != tOK {
		t.Fatalf("fresh proof: reply %d %q %v", typ, p, err)
	}
	ctl.mu.Lock()
	held := ctl.claims.proofs["gw-r"]
	ctl.mu.Unlock()
	if held == nil || held.At != good.At {
		t.Fatalf("held proof %+v, want the fresh one", held)
	}
	// A payload that is not a proof.
	if typ, _, err := rawCall(t, c, encode(tRouteProof, []byte{0xff})); err != nil || typ != tError {
		t.Fatalf("malformed proof: reply %d %v, want an error", typ, err)
	}
}
