package mesh

import (
	"fmt"
	"strings"
	"testing"

	"github.com/canopy-fleet/canopy/kernel"
	"github.com/canopy-fleet/canopy/mesh/frame"
	"github.com/canopy-fleet/canopy/mesh/memnet"
)

// A gateway lost with a large subtree (20,000 nodes, names of 63 bytes)
// is told up in routes messages that each fit in the parent's MaxFrame;
// one message with every deletion was over it, refused by the parent,
// which kept routing the whole subtree to a gateway it no longer had.
func TestRouteDeletionsChunked(t *testing.T) {
	n, err := New(Config{Name: "gw", Role: kernel.RoleGateway, Network: memnet.NewFabric().Endpoint("gw", kernel.RoleGateway)})
	if err != nil {
		t.Fatal(err)
	}
	var del []kernel.NodeName
	for i := 0; i < 20000; i++ {
		del = append(del, kernel.NodeName(fmt.Sprintf("n%05d-%s", i, strings.Repeat("x", 56))))
	}
	up := &peerLink{}
	n.mu.Lock()
	n.enqueueRoutesLocked(up, []kernel.NodeName{"a"}, del)
	n.mu.Unlock()
	total := 0
	for _, m := range up.ctrlQ {
		r := m.v.(routes)
		b, err := frame.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) > n.cfg.MaxFrame {
			t.Fatalf("routes message of %d bytes, over MaxFrame %d", len(b), n.cfg.MaxFrame)
		}
		total += len(r.Del)
	}
	if total != len(del) {
		t.Fatalf("%d deletions sent, want %d", total, len(del))
	}
}
