package mesh

import (
	"testing"
	"time"

	"github.com/canopy-fleet/canopy/kernel"
)

// New probe targets are measured soon, not a ProbeInterval (40 s here,
// ProbeInterval/8 = 5 s of spread) later: a leaf told of its alternates
// reports its round trips to them, and a gateway to its new sibling,
// within seconds.
func TestNewProbeTargetsMeasuredSoon(t *testing.T) {
	base := fastTimers
	base.ProbeInterval = 40 * time.Second
	tr, _ := memTree(t, base)
	ctl := tr.start("ctl", kernel.RoleController, memListen("ctl"))
	tr.start("gw-1", kernel.RoleGateway, memListen("gw-1"), "ctl")
	tr.start("gw-2", kernel.RoleGateway, memListen("gw-2"), "ctl")
	tr.start("leaf", kernel.RoleLeaf, "", "gw-1")
	eventually(t, "the leaf's round trips to its alternates and gw-1's to its sibling at the root", func() bool {
		g := ctl.Latency()
		_, a := g["leaf"]["gw-2"]
		_, b := g["leaf"]["ctl"]
		_, c := g["gw-1"]["gw-2"]
		return a && b && c
	})
}
