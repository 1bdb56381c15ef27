package mesh

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/canopy-fleet/canopy/kernel"
	"github.com/canopy-fleet/canopy/mesh/link"
	"github.com/canopy-fleet/canopy/mesh/memnet"
)

// failNet wraps a network so a test can make the next frame of one type
// a node sends fail on the wire (the stream's first write errors), once.
type failNet struct {
	link.Network
	fail *atomic.Int32 // frame type to fail next; 0 for none
}

func (f failNet) Dial(ctx context.Context, addr string, want kernel.NodeName) (link.Conn, error) {
	c, err := f.Network.Dial(ctx, addr, want)
	if err != nil {
		return nil, err
	}
	return failConn{c, f.fail}, nil
}

func (f failNet) Listen(addr string) (link.Listener, error) {
	l, err := f.Network.Listen(addr)
	if err != nil {
		return nil, err
	}
	return failListener{l, f.fail}, nil
}

type failListener struct {
	link.Listener
	fail *atomic.Int32
}

func (l failListener) Accept(ctx context.Context) (link.Conn, error) {
	c, err := l.Listener.Accept(ctx)
	if err != nil {
		return nil, err
	}
	return failConn{c, l.fail}, nil
}

type failConn struct {
	link.Conn
	fail *atomic.Int32
}

func (c failConn) OpenStream(ctx context.Context) (link.Stream, error) {
	s, err := c.Conn.OpenStream(ctx)
	if err != nil {
		return nil, err
	}
	return &failStream{Stream: s, fail: c.fail}, nil
}

type failStream struct {
	link.Stream
	fail    *atomic.Int32
	written bool
}

func (s *failStream) Write(p []byte) (int, error) {
	if !s.written {
		s.written = true
		if len(p) > 0 && s.fail.CompareAndSwap(int32(p[0]), 0) {
			s.Stream.Abort()
			return 0, errors.New("injected write failure")
		}
	}
	return s.Stream.Write(p)
}

// childWants reports whether this node's link to child c carries interest
// matching topic.
func (n *Node) childWants(c kernel.NodeName, topic string) bool {
	n.mu.Lock()
	l := n.children[c]
	n.mu.Unlock()
	return l != nil && l.wants(topic)
}

// A control frame (a routes delta, an interest update) that fails on the
// wire is not lost: the link it failed on is closed, the child links again
// and its hello carries the whole state, so routes and interest are right
// again on both sides.
func TestControlFrameFailureResyncs(t *testing.T) {
	f := memnet.NewFabric()
	var gwFail, ctlFail atomic.Int32
	tr := newTree(t, func(n kernel.NodeName, r kernel.Role) link.Network {
		nw := f.Endpoint(n, r)
		switch n {
		case "gw-1":
			return failNet{nw, &gwFail}
		case "ctl":
			return failNet{nw, &ctlFail}
		}
		return nw
	}, fastTimers)
	ctl := tr.start("ctl", kernel.RoleController, "mem:ctl")
	gw := tr.start("gw-1", kernel.RoleGateway, "mem:gw-1", "ctl")
	eventually(t, "gateway linked", func() bool { return ctl.Reaches("gw-1") })

	t.Run("routes up", func(t *testing.T) {
		gwFail.Store(int32(tRoutes))
		leaf := tr.start("leaf-a", kernel.RoleLeaf, "", "gw-1")
		leaf.Handle("echo", func(_ context.Context, _ kernel.NodeName, b []byte) ([]byte, error) { return b, nil })
		eventually(t, "the routes update failed", func() bool { return gwFail.Load() == 0 })
		eventually(t, "controller routes the new leaf", func() bool { return ctl.Reaches("leaf-a") })
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if b, err := ctl.Request(ctx, "leaf-a", "echo", []byte("ok")); err != nil || string(b) != "ok" {
			t.Fatalf("request to the new leaf: %q %v", b, err)
		}
	})
	t.Run("interest up", func(t *testing.T) {
		eventually(t, "leaf under the gateway", func() bool { return tr.nodes["leaf-a"].Parent() == "gw-1" })
		gwFail.Store(int32(tInterest))
		if _, err := tr.nodes["leaf-a"].Subscribe("t/up", func(Message) {}); err != nil {
			t.Fatal(err)
		}
		eventually(t, "the interest update failed", func() bool { return gwFail.Load() == 0 })
		eventually(t, "controller knows the gateway's interest", func() bool { return ctl.childWants("gw-1", "t/up") })
	})
	t.Run("interest down", func(t *testing.T) {
		eventually(t, "gateway linked", func() bool { return gw.Parent() == "ctl" })
		ctlFail.Store(int32(tInterest))
		if _, err := ctl.Subscribe("t/down", func(Message) {}); err != nil {
			t.Fatal(err)
		}
		eventually(t, "the interest update failed", func() bool { return ctlFail.Load() == 0 })
		eventually(t, "gateway knows the controller's interest", func() bool { return gw.parentWants("t/down") })
	})
	if ctl.Stats().ControlResyncs.Load()+gw.Stats().ControlResyncs.Load() == 0 {
		t.Error("no link resynced")
	}
}
