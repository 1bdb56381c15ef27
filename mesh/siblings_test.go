package mesh

import (
	"testing"
	"time"

	"github.com/canopy-fleet/canopy/kernel"
)

// Listening siblings (gateways under one parent) probe each other and the
// round trips reach the root's latency graph; leaves, which do not
// listen, are not probed (they probe their alternates: their gateway's
// siblings and its parent); a sibling that leaves is dropped
// from the others' measurements.
func TestSiblingProbesReachTheRoot(t *testing.T) {
	base := fastTimers
	base.ProbeInterval = 50 * time.Millisecond
	t.Run("memnet", func(t *testing.T) {
		tr, _ := memTree(t, base)
		siblingProbes(t, tr, memListen)
	})
	t.Run("quic", func(t *testing.T) {
		tr, _ := quicTree(t, base)
		siblingProbes(t, tr, quicListen)
	})
}

func siblingProbes(t *testing.T, tr *tree, listen func(kernel.NodeName) string) {
	ctl := tr.start("ctl", kernel.RoleController, listen("ctl"))
	gws := []kernel.NodeName{"gw-1", "gw-2", "gw-3"}
	for _, g := range gws {
		tr.start(g, kernel.RoleGateway, listen(g), "ctl")
	}
	tr.start("leaf-a", kernel.RoleLeaf, "", "gw-1")
	tr.start("leaf-b", kernel.RoleLeaf, "", "gw-1")
	eventually(t, "every gateway's probes of its two siblings in the root's graph", func() bool {
		g := ctl.Latency()
		for _, a := range gws {
			for _, b := range gws {
				if _, ok := g[a][b]; a != b && !ok {
					return false
				}
			}
		}
		_, a := g["leaf-a"]["gw-1"]
		_, b := g["leaf-b"]["gw-1"]
		return a && b
	})
	g := ctl.Latency()
	for _, a := range gws {
		for _, b := range gws {
			if d := g[a][b]; a != b && d <= 0 {
				t.Errorf("%s -> %s: round trip %v", a, b, d)
			}
		}
	}
	if _, ok := g["leaf-a"]["leaf-b"]; ok {
		t.Error("leaf-a measured leaf-b: leaves do not listen and are no probe targets")
	}
	for name := range g["leaf-a"] {
		if name != "gw-1" && name != "gw-2" && name != "gw-3" && name != "ctl" {
			t.Errorf("leaf-a reported %v, want its parent and its alternates (gw-1's siblings, ctl) only", g["leaf-a"])
		}
	}
	for _, g := range gws {
		for _, c := range tr.nodes[g].Children() {
			if c != "leaf-a" && c != "leaf-b" {
				t.Fatalf("a probe made %s a child of %s", c, g)
			}
		}
	}
	// gw-3 goes away: ctl tells the others, they stop reporting it.
	tr.nodes["gw-3"].Close()
	eventually(t, "gw-3 gone from its siblings' reports", func() bool {
		g := ctl.Latency()
		_, a := g["gw-1"]["gw-3"]
		_, b := g["gw-2"]["gw-3"]
		_, c := g["gw-1"]["gw-2"]
		return !a && !b && c
	})
}

// A sibling list may only come from the parent.
func TestSiblingsFromAChildRefused(t *testing.T) {
	tr, _ := memTree(t, fastTimers)
	ctl := tr.start("ctl", kernel.RoleController, "mem:ctl")
	gw := tr.start("gw-1", kernel.RoleGateway, "mem:gw-1", "ctl")
	eventually(t, "gw-1 linked", func() bool { return gw.Parent() == "ctl" })
	gw.mu.Lock()
	p := gw.parent
	gw.mu.Unlock()
	_, _, err := p.call(t.Context(), tSiblings, siblingsMsg{Peers: []siblingAddr{{Name: "x", Addr: "mem:x"}}})
	if re, ok := err.(*RemoteError); !ok || re.Code != CodeBadRequest {
		t.Fatalf("siblings sent up: got %v, want a bad-request error", err)
	}
	ctl.mu.Lock()
	n := len(ctl.siblings)
	ctl.mu.Unlock()
	if n != 0 {
		t.Fatalf("the root took a sibling list from its child: %d siblings", n)
	}
}

// Only a listen address a sibling can dial is advertised.
func TestAdvertisable(t *testing.T) {
	for in, want := range map[string]string{
		"":               "",
		"127.0.0.1:7443": "127.0.0.1:7443",
		"[::1]:7443":     "[::1]:7443",
		"0.0.0.0:7443":   "",
		"[::]:7443":      "",
		":7443":          "",
		"gateway-1:7443": "gateway-1:7443",
		"mem:gw-1":       "mem:gw-1",
	} {
		if got := advertisable(in); got != want {
			t.Errorf("advertisable(%q) = %q, want %q", in, got, want)
		}
	}
}
