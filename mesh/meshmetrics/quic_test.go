package meshmetrics_test

import (
	"testing"
	"time"

	"github.com/canopy-fleet/canopy/kernel"
	"github.com/canopy-fleet/canopy/mesh"
	"github.com/canopy-fleet/canopy/mesh/identity"
	"github.com/canopy-fleet/canopy/mesh/link"
	"github.com/canopy-fleet/canopy/mesh/quicnet"
)

// TestQUICLinkMetrics: over real QUIC on loopback the round trip is the
// transport's measure, so it is reported above zero on both ends.
func TestQUICLinkMetrics(t *testing.T) {
	ca, err := identity.LoadOrCreateCA(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	auth := &identity.Authority{CA: ca, Tokens: identity.NewTokens(nil)}
	network := func(name kernel.NodeName, role kernel.Role) link.Network {
		id, err := auth.Issue(t.TempDir(), name, role)
		if err != nil {
			t.Fatal(err)
		}
		n, err := quicnet.New(quicnet.Config{Identity: id, Revoked: ca.IsRevoked, MaxIdleTimeout: 2 * time.Second, KeepAlivePeriod: 200 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	ctl := startNode(t, "ctl", kernel.RoleController, mesh.Config{
		Network: network("ctl", kernel.RoleController), Listen: "127.0.0.1:0"})
	leaf := startNode(t, "leaf", kernel.RoleLeaf, mesh.Config{
		Network: network("leaf", kernel.RoleLeaf), Parents: []mesh.Parent{{Addr: ctl.n.Addr(), Name: "ctl"}}})

	eventually(t, "the link up with a round trip on both ends", func() bool {
		c, l := ctl.values(t), leaf.values(t)
		return c["canopy_mesh_children"] == 1 && l["canopy_mesh_parent_up"] == 1 &&
			c[`canopy_mesh_link_rtt_seconds{peer="leaf"}`] > 0 && l[`canopy_mesh_link_rtt_seconds{peer="ctl"}`] > 0
	})
	if got := leaf.values(t)[`canopy_mesh_link_events_total{event="parent-up"}`]; got != 1 {
		t.Fatalf("leaf parent-up events %v, want 1", got)
	}
}
