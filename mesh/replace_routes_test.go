package mesh

import (
	"context"
	"testing"

	"github.com/canopy-fleet/canopy/kernel"
	"github.com/canopy-fleet/canopy/mesh/frame"
)

// A gateway back on a new link (after a crash, before its old link timed
// out) replaces the old one; the nodes it routed before and does not
// claim now are reported gone up the tree, so the root does not keep
// routing to them through its parent.
func TestReplacedLinkReportsDroppedRoutes(t *testing.T) {
	tr, f := memTree(t, fastTimers)
	ctl := tr.start("ctl", kernel.RoleController, "mem:ctl")
	tr.start("gw-a", kernel.RoleGateway, "mem:gw-a", "ctl")
	ep := f.Endpoint("gw-b", kernel.RoleGateway)
	hello := func(routes ...kernel.NodeName) {
		t.Helper()
		c, err := ep.Dial(context.Background(), "mem:gw-a", "gw-a")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		s, err := c.OpenStream(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if err := frame.WriteMsg(s, tHello, hello{Version: ProtocolVersion, Routes: routes}); err != nil {
			t.Fatal(err)
		}
		s.CloseWrite()
		if typ, _, err := frame.Read(s, 1<<20); err != nil || typ != tHelloAck {
			t.Fatalf("hello ack: type %d, %v", typ, err)
		}
	}
	hello("x")
	eventually(t, "the root routes to x", func() bool { return ctl.Reaches("x") })
	hello() // the same gateway, back without x
	eventually(t, "the root no longer routes to x", func() bool { return !ctl.Reaches("x") })
}
