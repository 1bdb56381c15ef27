package meshmetrics_test

import (
	"bytes"
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/canopy-fleet/canopy/kernel"
	"github.com/canopy-fleet/canopy/mesh"
	"github.com/canopy-fleet/canopy/mesh/link"
	"github.com/canopy-fleet/canopy/mesh/memnet"
)

// deafNetwork is a link.Network whose accepted connections abort every
// stream the peer opens while deaf is set: the peer's heartbeats go
// unanswered though the connection stays up.
type deafNetwork struct {
	link.Network
	deaf *atomic.Bool
}

func (d deafNetwork) Listen(addr string) (link.Listener, error) {
	ln, err := d.Network.Listen(addr)
	return deafListener{ln, d.deaf}, err
}

type deafListener struct {
	link.Listener
	deaf *atomic.Bool
}

func (l deafListener) Accept(ctx context.Context) (link.Conn, error) {
	c, err := l.Listener.Accept(ctx)
	if err != nil {
		return nil, err
	}
	return deafConn{c, l.deaf}, nil
}

type deafConn struct {
	link.Conn
	deaf *atomic.Bool
}

func (c deafConn) AcceptStream(ctx context.Context) (link.Stream, error) {
	for {
		s, err := c.Conn.AcceptStream(ctx)
		if err != nil || !c.deaf.Load() {
			return s, err
		}
		s.Abort()
	}
}

// TestWorkMetrics runs a controller, a gateway and a leaf over memnet and
// reads the counters of requests (sent, failed, timed out, served),
// heartbeats (sent, received, missed, timed out) and blobs (bytes moved,
// blobs and bytes cached).
func TestWorkMetrics(t *testing.T) {
	f := memnet.NewFabric()
	ctl := start(t, f, "ctl", kernel.RoleController, true, "", mesh.Config{})
	var deaf atomic.Bool
	gw := startNode(t, "gw", kernel.RoleGateway, mesh.Config{
		Network: deafNetwork{f.Endpoint("gw", kernel.RoleGateway), &deaf}, Listen: "mem:gw",
		Parents: []mesh.Parent{{Addr: "mem:ctl", Name: "ctl"}}})
	// The leaf gives up on its parent only after 10s, so the gateway is the
	// one to notice first when heartbeats stop arriving.
	leaf := start(t, f, "leaf", kernel.RoleLeaf, false, "gw", mesh.Config{
		HeartbeatInterval: 50 * time.Millisecond, LostAfter: 10 * time.Second})
	leaf.n.Handle("echo", func(_ context.Context, _ kernel.NodeName, b []byte) ([]byte, error) { return b, nil })
	leaf.n.Handle("stall", func(ctx context.Context, _ kernel.NodeName, _ []byte) ([]byte, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	})
	eventually(t, "the leaf routed from the root", func() bool { return ctl.n.Reaches("leaf") })

	ctx := context.Background()
	for range 2 {
		if b, err := ctl.n.Request(ctx, "leaf", "echo", []byte("hi")); err != nil || string(b) != "hi" {
			t.Fatalf("echo: %q %v", b, err)
		}
	}
	var re *mesh.RemoteError
	if _, err := ctl.n.Request(ctx, "leaf", "nope", nil); !errors.As(err, &re) || re.Code != mesh.CodeNoHandler {
		t.Fatalf("request without a handler: %v", err)
	}
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	_, err := ctl.n.Request(short, "leaf", "stall", nil)
	cancel()
	if err == nil {
		t.Fatal("a stalled request succeeded")
	}
	// The leaf times out a request of its own to itself too.
	short, cancel = context.WithTimeout(ctx, 100*time.Millisecond)
	_, err = leaf.n.Request(short, "leaf", "stall", nil)
	cancel()
	if !errors.As(err, &re) || re.Code != mesh.CodeTimeout {
		t.Fatalf("a stalled local request: %v", err)
	}

	module := []byte("module bytes")
	digest, err := ctl.n.Blobs().Put(bytes.NewReader(module))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := leaf.n.FetchBlob(ctx, digest); err != nil {
		t.Fatal(err)
	}

	eventually(t, "heartbeats up both links", func() bool {
		c, g, l := ctl.values(t), gw.values(t), leaf.values(t)
		return l["canopy_mesh_heartbeats_sent_total"] >= 2 && g["canopy_mesh_heartbeats_received_total"] >= 2 &&
			g["canopy_mesh_heartbeats_sent_total"] >= 2 && c["canopy_mesh_heartbeats_received_total"] >= 2
	})
	size := float64(len(module))
	c, g, l := ctl.values(t), gw.values(t), leaf.values(t)
	for _, x := range []struct {
		node string
		v    map[string]float64
		key  string
		want float64
	}{
		{"ctl", c, "canopy_mesh_requests_sent_total", 4},
		{"ctl", c, "canopy_mesh_requests_failed_total", 2},
		{"ctl", c, "canopy_mesh_requests_timed_out_total", 1},
		{"ctl", c, "canopy_mesh_requests_served_total", 0},
		{"ctl", c, "canopy_mesh_heartbeats_sent_total", 0},
		{"ctl", c, "canopy_mesh_heartbeats_missed_total", 0},
		{"ctl", c, "canopy_mesh_heartbeat_timeouts_total", 0},
		{"ctl", c, "canopy_mesh_blobstore_blobs", 1},
		{"ctl", c, "canopy_mesh_blobstore_bytes", size},
		{"ctl", c, "canopy_mesh_blob_served_bytes_total", size},
		{"ctl", c, "canopy_mesh_blob_fetched_bytes_total", 0},
		{"gw", g, "canopy_mesh_requests_sent_total", 0},
		{"gw", g, "canopy_mesh_requests_served_total", 0},
		{"gw", g, "canopy_mesh_blobstore_blobs", 1},
		{"gw", g, "canopy_mesh_blobstore_bytes", size},
		{"gw", g, "canopy_mesh_blob_fetched_bytes_total", size},
		{"gw", g, "canopy_mesh_blob_served_bytes_total", size},
		{"leaf", l, "canopy_mesh_requests_sent_total", 1},
		{"leaf", l, "canopy_mesh_requests_failed_total", 1},
		{"leaf", l, "canopy_mesh_requests_timed_out_total", 1},
		{"leaf", l, "canopy_mesh_requests_served_total", 5},
		{"leaf", l, "canopy_mesh_heartbeats_received_total", 0},
		{"leaf", l, "canopy_mesh_blobstore_blobs", 1},
		{"leaf", l, "canopy_mesh_blobstore_bytes", size},
		{"leaf", l, "canopy_mesh_blob_fetched_bytes_total", size},
		{"leaf", l, "canopy_mesh_blob_served_bytes_total", 0},
	} {
		if got, ok := x.v[x.key]; !ok || got != x.want {
			t.Errorf("%s: %s = %v (present %v), want %v", x.node, x.key, got, ok, x.want)
		}
	}

	// The gateway stops answering the leaf: the leaf counts its beats
	// missed, and the gateway drops it for silence.
	deaf.Store(true)
	eventually(t, "beats missed by the leaf and the leaf dropped for silence", func() bool {
		return leaf.values(t)["canopy_mesh_heartbeats_missed_total"] >= 1 &&
			gw.values(t)["canopy_mesh_heartbeat_timeouts_total"] == 1
	})
	deaf.Store(false)
	// It may link to the controller: an alternate the gateway told it.
	eventually(t, "the leaf linked again", func() bool { return leaf.ev.Count(mesh.EventParentUp) >= 2 })

	for _, n := range []node{ctl, gw, leaf} {
		problems, err := testutil.CollectAndLint(n.c)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range problems {
			t.Errorf("promlint: %s: %s", p.Metric, p.Text)
		}
	}
}
