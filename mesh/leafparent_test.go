package mesh

import (
	"slices"
	"testing"

	"github.com/canopy-fleet/canopy/kernel"
)

// A leaf (a stolen or modified device) that listens and says so in its
// hello is no one's sibling and no one's alternate parent: were it told
// down the tree, the children of a gateway that died would link under
// it, and it would hold their traffic.
func TestLeafIsNoAlternate(t *testing.T) {
	tr, _ := memTree(t, fastTimers)
	tr.start("ctl", kernel.RoleController, "mem:ctl")
	evil := tr.start("evil", kernel.RoleLeaf, "mem:evil", "ctl")
	eventually(t, "evil linked", func() bool { return evil.Parent() == "ctl" })
	tr.start("gw-1", kernel.RoleGateway, "mem:gw-1", "ctl")
	leaf := tr.start("leaf", kernel.RoleLeaf, "", "gw-1")
	tr.start("gw-2", kernel.RoleGateway, "mem:gw-2", "ctl")
	// The root's list naming gw-2 was made after evil linked.
	eventually(t, "the leaf learns gw-2", func() bool {
		return slices.ContainsFunc(leaf.Alternates(), func(p Parent) bool { return p.Name == "gw-2" })
	})
	if alts := leaf.Alternates(); slices.ContainsFunc(alts, func(p Parent) bool { return p.Name == "evil" }) {
		t.Fatalf("the leaf was told a leaf as alternate parent: %v", alts)
	}
}

// A node never links under a leaf, even one it was configured or told to
// dial: it goes on to the next parent.
func TestNoParentIsALeaf(t *testing.T) {
	tr, _ := memTree(t, fastTimers)
	tr.start("ctl", kernel.RoleController, "mem:ctl")
	evil := tr.start("evil", kernel.RoleLeaf, "mem:evil", "ctl")
	eventually(t, "evil linked", func() bool { return evil.Parent() == "ctl" })
	victim := tr.start("victim", kernel.RoleLeaf, "", "evil", "ctl")
	eventually(t, "the victim linked under ctl", func() bool { return victim.Parent() == "ctl" })
	if evil.Reaches("victim") {
		t.Fatal("evil has the victim as a child")
	}
}
