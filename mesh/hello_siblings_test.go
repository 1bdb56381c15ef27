package mesh

import (
	"context"
	"testing"
	"time"

	"github.com/canopy-fleet/canopy/kernel"
	"github.com/canopy-fleet/canopy/mesh/frame"
	"github.com/canopy-fleet/canopy/mesh/link"
	"github.com/canopy-fleet/canopy/mesh/memnet"
)

// A leaf that asks for its alternates in the hello ack gets them there (a
// leaf under gw-1 has gw-1's parent, ctl); one that does not ask (an
// older node) gets the siblings message after the ack, as before.
func TestHelloAckCarriesAlternates(t *testing.T) {
	f := memnet.NewFabric()
	tr := newTree(t, func(n kernel.NodeName, r kernel.Role) link.Network { return f.Endpoint(n, r) }, fastTimers)
	tr.start("ctl", kernel.RoleController, "mem:ctl")
	gw := tr.start("gw-1", kernel.RoleGateway, "mem:gw-1", "ctl")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := gw.WaitParent(ctx); err != nil {
		t.Fatal(err)
	}
	eventually(t, "gw-1 knows where its parent is", func() bool {
		gw.mu.Lock()
		defer gw.mu.Unlock()
		return len(gw.alternatesForChildrenLocked()) > 0
	})
	hasCtl := func(alts []siblingAddr) bool {
		for _, a := range alts {
			if a.Name == "ctl" && a.Addr == "mem:ctl" {
				return true
			}
		}
		return false
	}

	c, err := f.Endpoint("leaf-1", kernel.RoleLeaf).Dial(ctx, "mem:gw-1", "gw-1")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	typ, p, err := rawCall(t, c, encode(tHello, hello{Version: ProtocolVersion, SiblingsInAck: true}))
	var ack helloAck
	if err != nil || typ != tHelloAck || frame.Unmarshal(p, &ack) != nil {
		t.Fatalf("hello: %d %q %v", typ, p, err)
	}
	if ack.Siblings == nil || !hasCtl(ack.Siblings.Alternates) {
		t.Fatalf("ack siblings %+v, want ctl among the alternates", ack.Siblings)
	}

	old, err := f.Endpoint("leaf-2", kernel.RoleLeaf).Dial(ctx, "mem:gw-1", "gw-1")
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	typ, p, err = rawCall(t, old, encode(tHello, hello{Version: ProtocolVersion}))
	ack = helloAck{}
	if err != nil || typ != tHelloAck || frame.Unmarshal(p, &ack) != nil {
		t.Fatalf("hello: %d %q %v", typ, p, err)
	}
	if ack.Siblings != nil {
		t.Fatalf("ack carries siblings %+v to a child that did not ask", ack.Siblings)
	}
	s, err := old.AcceptStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	typ, p, err = frame.Read(s, 1<<20)
	var m siblingsMsg
	if err != nil || typ != tSiblings || frame.Unmarshal(p, &m) != nil || !hasCtl(m.Alternates) {
		t.Fatalf("after the ack: %d %q %v, want the siblings message naming ctl", typ, p, err)
	}
}

// The hello and ack decoders, version first: never a panic, and the
// version read loosely is the one a strict decode finds.
func FuzzHelloVersion(f *testing.F) {
	for _, v := range []any{
		hello{Version: ProtocolVersion, SiblingsInAck: true, Interest: []string{"a/#"}},
		helloAck{Version: ProtocolVersion, Siblings: &siblingsMsg{Alternates: []siblingAddr{{Name: "ctl", Addr: "mem:ctl"}}}},
		map[string]any{"Version": 9, "Future": []int{1, 2}},
	} {
		b, _ := frame.Marshal(v)
		f.Add(b)
	}
	f.Add([]byte{0xa1, 0x67})
	f.Fuzz(func(t *testing.T, b []byte) {
		v, verr := peekVersion(b)
		var h hello
		if frame.Unmarshal(b, &h) == nil && (verr != nil || v != h.Version) {
			t.Fatalf("hello version %d, peeked %d %v", h.Version, v, verr)
		}
		var a helloAck
		if frame.Unmarshal(b, &a) == nil && (verr != nil || v != a.Version) {
			t.Fatalf("ack version %d, peeked %d %v", a.Version, v, verr)
		}
	})
}
