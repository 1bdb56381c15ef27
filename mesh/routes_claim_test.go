package mesh

import (
	"context"
	"testing"
	"time"

	"github.com/canopy-fleet/canopy/kernel"
	"github.com/canopy-fleet/canopy/mesh/link"
	"github.com/canopy-fleet/canopy/mesh/memnet"
)

// routeVia is the link name a node routes to x through ("" when none).
func (n *Node) routeVia(x kernel.NodeName) kernel.NodeName {
	n.mu.Lock()
	defer n.mu.Unlock()
	if l := n.routes[x]; l != nil {
		return l.peer.Name
	}
	return ""
}

// A child cannot draw another node's traffic by claiming its name: a leaf's
// route claims (in its hello or later) are refused, so requests to the real
// node still reach it and the leaf cannot send in its name; a gateway may
// claim nodes below it, but not a node linked here directly, this node or
// its parent.
func TestRouteClaims(t *testing.T) {
	f := memnet.NewFabric()
	base := fastTimers
	base.RequestTimeout = time.Second
	tr := newTree(t, func(n kernel.NodeName, r kernel.Role) link.Network { return f.Endpoint(n, r) }, base)
	ctl := tr.start("ctl", kernel.RoleController, "mem:ctl")
	ctl.Handle("echo", func(_ context.Context, from kernel.NodeName, b []byte) ([]byte, error) { return []byte(from), nil })
	good := tr.start("good", kernel.RoleLeaf, "", "ctl")
	good.Handle("who", func(context.Context, kernel.NodeName, []byte) ([]byte, error) { return []byte("good"), nil })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := good.WaitParent(ctx); err != nil {
		t.Fatal(err)
	}

	evil, err := f.Endpoint("evil", kernel.RoleLeaf).Dial(ctx, "mem:ctl", "")
	if err != nil {
		t.Fatal(err)
	}
	defer evil.Close()
	if typ, _, err := rawCall(t, evil, encode(tHello, hello{Version: ProtocolVersion, Routes: []kernel.NodeName{"good", "gw-9", "ctl"}})); err != nil || typ != tHelloAck {
		t.Fatalf("hello: %d %v", typ, err)
	}
	if typ, _, err := rawCall(t, evil, encode(tRoutes, routes{Add: []kernel.NodeName{"good", "gw-9"}})); err != nil || typ != tOK {
		t.Fatalf("routes: %d %v", typ, err)
	}
	eventually(t, "evil linked", func() bool { return ctl.routeVia("evil") == "evil" })
	for _, x := range []kernel.NodeName{"good", "gw-9", "ctl"} {
		if via := ctl.routeVia(x); via == "evil" {
			t.Fatalf("a leaf's claim to %s was taken", x)
		}
	}
	if b, err := ctl.Request(ctx, "good", "who", nil); err != nil || string(b) != "good" {
		t.Fatalf("request to good after the leaf's claim: %q %v", b, err)
	}
	typ, p, err := rawCall(t, evil, encode(tRequest, envelope{Src: "good", Dst: "ctl", Kind: "echo"}))
	if code := errCode(t, typ, p, err); code != CodeBadRequest {
		t.Fatalf("a leaf sending in good's name: code %s", code)
	}

	// A gateway may announce its subtree, but not a direct child of ctl.
	gw, err := f.Endpoint("gw-1", kernel.RoleGateway).Dial(ctx, "mem:ctl", "")
	if err != nil {
		t.Fatal(err)
	}
	defer gw.Close()
	if typ, _, err := rawCall(t, gw, encode(tHello, hello{Version: ProtocolVersion, Routes: []kernel.NodeName{"good", "leaf-7"}})); err != nil || typ != tHelloAck {
		t.Fatalf("gateway hello: %d %v", typ, err)
	}
	eventually(t, "gateway's subtree routed", func() bool { return ctl.routeVia("leaf-7") == "gw-1" })
	if via := ctl.routeVia("good"); via != "good" {
		t.Fatalf("good routed via %q after a gateway claimed it", via)
	}
}
