package mesh

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/canopy-fleet/canopy/kernel"
	"github.com/canopy-fleet/canopy/mesh/frame"
	"github.com/canopy-fleet/canopy/mesh/link"
	"github.com/canopy-fleet/canopy/mesh/memnet"
)

// FuzzStream sends arbitrary bytes as a stream to a live node: whatever
// arrives, the node answers or drops the stream and keeps serving.
func FuzzStream(f *testing.F) {
	for _, seed := range [][]byte{
		encode(tRequest, envelope{Src: "fuzz", Kind: "echo", Body: []byte("x")}),
		encode(tOneWay, envelope{Src: "fuzz", Kind: "echo"}),
		encode(tHeartbeat, heartbeat{Seq: 1}),
		encode(tRoutes, routes{Add: []kernel.NodeName{"a"}}),
		encode(tInterest, interest{Filters: []string{"a/#"}}),
		encode(tPublish, Message{ID: "1", Src: "fuzz", Topic: "a/b", QoS: 1}),
		encode(tBlobGet, blobGet{Digest: "sha256:00", Offset: -1}),
		encode(tHello, hello{Version: 1}),
		encode(tHello, hello{Version: 1, Listen: "mem:fuzz"}),
		encode(tSiblings, siblingsMsg{Peers: []siblingAddr{{Name: "x", Addr: "mem:x"}}}),
		{byte(tRequest), 0xff, 0xff, 0xff, 0xff},
		{},
	} {
		f.Add(seed)
	}
	fab := memnet.NewFabric()
	n, err := New(Config{Name: "target", Role: kernel.RoleController, Network: fab.Endpoint("target", kernel.RoleController), Listen: "mem:target", RequestTimeout: 200 * time.Millisecond,
		// The fuzzer sends no heartbeats; keep its link for the whole run.
		HeartbeatInterval: 10 * time.Minute, LostAfter: time.Hour})
	if err != nil {
		f.Fatal(err)
	}
	n.Handle("echo", func(_ context.Context, _ kernel.NodeName, b []byte) ([]byte, error) { return b, nil })
	if err := n.Start(context.Background()); err != nil {
		f.Fatal(err)
	}
	defer n.Close()
	ctx := context.Background()
	c, err := fab.Endpoint("fuzz", kernel.RoleLeaf).Dial(ctx, "mem:target", "")
	if err != nil {
		f.Fatal(err)
	}
	call := func(raw []byte) (frame.Type, []byte, error) {
		s, err := c.OpenStream(ctx)
		if err != nil {
			return 0, nil, err
		}
		s.SetDeadline(time.Now().Add(2 * time.Second))
		s.Write(raw)
		s.CloseWrite()
		return frame.Read(s, 1<<20)
	}
	if typ, _, err := call(encode(tHello, hello{Version: ProtocolVersion})); err != nil || typ != tHelloAck {
		f.Fatalf("hello: %v", err)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		call(in)
		// The node still answers a well-formed request.
		typ, p, err := call(encode(tRequest, envelope{Src: "fuzz", Dst: "target", Kind: "echo", Body: []byte("alive")}))
		if err != nil || typ != tResponse || !bytes.Equal(p, []byte("alive")) {
			t.Fatalf("node stopped answering after %x: %d %q %v", in, typ, p, err)
		}
	})
}

var _ link.Conn
