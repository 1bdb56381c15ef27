package mesh

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/canopy-fleet/canopy/kernel"
	"github.com/canopy-fleet/canopy/mesh/frame"
)

// A QoS 1 publication that reaches a node twice, along two paths (a
// publisher that failed over from gw-1 to gw-2 and sent it again), is
// acknowledged at once to a link the first delivery is forwarding it to:
// that link has it. Before, the controller's repeat from gw-2 waited for
// its first delivery, which waited for gw-2, which waited for the
// controller: both ends stalled until their requests timed out and the
// publication failed.
func TestQoS1RepeatFromALinkBeingForwardedTo(t *testing.T) {
	pt := newProofTree(t)
	pt.base.HeartbeatInterval, pt.base.LostAfter = time.Second, 10*time.Second
	pt.base.RequestTimeout = 3 * time.Second
	ctl := pt.node("ctl", kernel.RoleController)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	g1, id1 := pt.rogue(ctx, "gw-1")
	g2, id2 := pt.rogue(ctx, "gw-2")
	h1 := hello{Version: ProtocolVersion, Proof: newRouteProof(id1, "ctl", time.Now())}
	if typ, p, err := rawCall(t, g1, encode(tHello, h1)); err != nil || typ != tHelloAck {
		t.Fatalf("gw-1 hello: %d %q %v", typ, p, err)
	}
	h2 := hello{Version: ProtocolVersion, Proof: newRouteProof(id2, "ctl", time.Now()), Interest: []string{"t/#"}}
	if typ, p, err := rawCall(t, g2, encode(tHello, h2)); err != nil || typ != tHelloAck {
		t.Fatalf("gw-2 hello: %d %q %v", typ, p, err)
	}
	eventually(t, "both linked", func() bool { return ctl.routeVia("gw-1") == "gw-1" && ctl.routeVia("gw-2") == "gw-2" })
	// gw-2 reads what the controller sends it, and holds the publication
	// (its own delivery of it is waiting on the controller).
	forwarded := make(chan struct{})
	held := make(chan struct{})
	go func() {
		for {
			s, err := g2.AcceptStream(ctx)
			if err != nil {
				return
			}
			typ, _, err := frame.Read(s, 1<<20)
			if err != nil {
				continue
			}
			if typ == tPublish {
				close(forwarded)
				go func() {
					<-held
					frame.Write(s, tOK, nil)
					s.CloseWrite()
				}()
				continue
			}
			frame.Write(s, tOK, nil)
			s.CloseWrite()
		}
	}()
	m := Message{ID: "leaf-9-abc-1", Src: "leaf-9", Topic: "t/x", Data: []byte("hi"), QoS: 1}
	first := make(chan error, 1)
	go func() {
		typ, p, err := rawCall(t, g1, encode(tPublish, m))
		if err == nil && typ != tOK {
			err = fmt.Errorf("gw-1 publish: type %d %q", typ, p)
		}
		first <- err
	}()
	select {
	case <-forwarded:
	case <-ctx.Done():
		t.Fatal("the controller did not forward the publication to gw-2")
	}
	typ, p, err := rawCall(t, g2, encode(tPublish, m))
	close(held)
	if err != nil || typ != tOK {
		t.Fatalf("the repeat from gw-2, which the controller is forwarding it to: type %d %q %v, want ok", typ, p, err)
	}
	if err := <-first; err != nil {
		t.Fatal(err)
	}
}
