package mesh

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/canopy-fleet/canopy/kernel"
	"github.com/canopy-fleet/canopy/mesh/frame"
	"github.com/canopy-fleet/canopy/mesh/link"
	"github.com/canopy-fleet/canopy/mesh/memnet"
	"github.com/canopy-fleet/canopy/mesh/quicnet"
)

// flood dials addr count times from nw, at most conc at once, runs act on
// each connection made and returns them all, still open.
func flood(ctx context.Context, nw link.Network, addr string, count, conc int, act func(link.Conn)) []link.Conn {
	var (
		mu    sync.Mutex
		conns []link.Conn
		wg    sync.WaitGroup
	)
	sem := make(chan struct{}, conc)
	for i := 0; i < count; i++ {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			c, err := nw.Dial(dctx, addr, "")
			cancel()
			if err != nil {
				return
			}
			if act != nil {
				act(c)
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}()
	}
	wg.Wait()
	return conns
}

func closeAll(conns []link.Conn) {
	for _, c := range conns {
		c.Close()
	}
}

// quicFloodTree is a controller with a gateway and a leaf under it, over
// real QUIC on loopback, and the CA that can issue more certificates.
func quicFloodTree(t *testing.T, base Config) (*tree, *testCA) {
	ca := newTestCA(t)
	tr := newTree(t, func(n kernel.NodeName, r kernel.Role) link.Network { return ca.network(t, n, r) }, base)
	tr.start("ctl", kernel.RoleController, "127.0.0.1:0")
	tr.start("gw-1", kernel.RoleGateway, "127.0.0.1:0", "ctl")
	leaf := tr.start("leaf-00", kernel.RoleLeaf, "", "gw-1")
	leaf.Handle("echo", func(_ context.Context, _ kernel.NodeName, b []byte) ([]byte, error) { return b, nil })
	eventually(t, "leaf routed at the controller", func() bool { return tr.nodes["ctl"].Reaches("leaf-00") })
	eventually(t, "gateway's first heartbeat", func() bool { return tr.ev["ctl"].count(EventChildReady, "gw-1") == 1 })
	return tr, ca
}

// stillLinked checks the legitimate gateway kept its one link through a
// flood and that requests still cross the controller both ways.
func stillLinked(t *testing.T, tr *tree) {
	t.Helper()
	ctl, ev := tr.nodes["ctl"], tr.ev["ctl"]
	if n := ev.count(EventChildLost, "gw-1"); n != 0 {
		t.Errorf("controller lost its gateway %d times during the flood", n)
	}
	if n := ev.count(EventChildUp, "gw-1"); n != 1 {
		t.Errorf("gateway linked %d times, want once: its link was replaced", n)
	}
	if n := tr.ev["gw-1"].count(EventParentLost, ""); n != 0 {
		t.Errorf("gateway lost its parent %d times during the flood", n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if b, err := ctl.Request(ctx, "leaf-00", "echo", []byte("ok")); err != nil || string(b) != "ok" {
		t.Errorf("controller cannot reach the leaf after the flood: %q %v", b, err)
	}
	if !ctl.Reaches("leaf-00") {
		t.Error("controller lost the route to the leaf")
	}
}

// One peer (a valid leaf certificate) opens hundreds of connections at
// once: some silent, some saying hello, some sending garbage. The
// controller holds at most MaxPendingPerPeer of them before their hello,
// closes the rest at once, keeps its gateway linked and keeps answering.
func TestConnectionFloodQUIC(t *testing.T) {
	base := fastTimers
	base.HeartbeatInterval, base.LostAfter = 200*time.Millisecond, 2*time.Second
	base.MaxPendingPerPeer, base.MaxPending = 4, 64
	base.ProbeInterval = -1 // no probe connections: every pending one is the flood's
	tr, ca := quicFloodTree(t, base)
	ctl := tr.nodes["ctl"]
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	evil := ca.network(t, "evil", kernel.RoleLeaf)
	var k int
	var mu sync.Mutex
	conns := flood(ctx, evil, ctl.Addr(), 300, 32, func(c link.Conn) {
		mu.Lock()
		k++
		i := k
		mu.Unlock()
		switch i % 3 {
		case 0: // silent
		case 1: // a hello
			s, err := c.OpenStream(ctx)
			if err == nil {
				s.Write(encode(tHello, hello{Version: ProtocolVersion}))
				s.CloseWrite()
			}
		case 2: // garbage
			s, err := c.OpenStream(ctx)
			if err == nil {
				s.Write([]byte{byte(tHello), 0xff, 0xff})
			}
		}
	})
	defer closeAll(conns)
	if len(conns) < 100 {
		t.Fatalf("only %d of 300 dials completed", len(conns))
	}
	st := ctl.Stats()
	if peak := st.ConnsPendingPeak.Load(); peak > int64(base.MaxPendingPerPeer) {
		t.Errorf("controller held %d connections before their hello, want at most %d", peak, base.MaxPendingPerPeer)
	}
	if st.ConnsRefused.Load() == 0 {
		t.Error("no connection refused")
	}
	stillLinked(t, tr)
	closeAll(conns)
	eventually(t, "no connection pending", func() bool { return st.ConnsPending.Load() == 0 })
}

// A stolen copy of the gateway's certificate floods the controller with
// hellos in the gateway's name. The real gateway's link is live (it
// beats), so every impostor's hello is refused: the real link is never
// replaced or dropped.
func TestImpostorHelloFloodQUIC(t *testing.T) {
	base := fastTimers
	base.HeartbeatInterval, base.LostAfter = 200*time.Millisecond, 2*time.Second
	tr, ca := quicFloodTree(t, base)
	ctl := tr.nodes["ctl"]
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	stolen := ca.network(t, "gw-1", kernel.RoleGateway)
	var mu sync.Mutex
	codes := map[string]int{}
	conns := flood(ctx, stolen, ctl.Addr(), 60, 4, func(c link.Conn) {
		typ, p, err := rawCall(t, c, encode(tHello, hello{Version: ProtocolVersion}))
		code := "no reply"
		switch {
		case err != nil:
		case typ == tHelloAck:
			code = "accepted"
		case typ == tError:
			var e errorMsg
			if frame.Unmarshal(p, &e) == nil {
				code = e.Code
			}
		}
		mu.Lock()
		codes[code]++
		mu.Unlock()
	})
	defer closeAll(conns)
	t.Logf("impostor hellos: %v", codes)
	if codes["accepted"] != 0 {
		t.Errorf("%d impostor hellos accepted while the real gateway was linked", codes["accepted"])
	}
	if codes[CodeConflict] == 0 {
		t.Errorf("no impostor hello refused as a conflict: %v", codes)
	}
	stillLinked(t, tr)
}

// Refusals of one peer are logged once, then counted into the next line
// (one per refusalLogEvery), not a line each.
func TestRefusalLogRateLimited(t *testing.T) {
	var buf syncBuffer
	f := memnet.NewFabric()
	n, err := New(Config{Name: "gw", Role: kernel.RoleGateway, Network: f.Endpoint("gw", kernel.RoleGateway),
		Logger: slog.New(slog.NewTextHandler(&buf, nil))})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 1000; i++ {
		n.refused("evil", "too many")
	}
	n.refused("other", "too many")
	if got := strings.Count(buf.String(), "refused connection"); got != 2 {
		t.Fatalf("%d log lines for 1,001 refusals of two peers, want 2:\n%s", got, buf.String())
	}
	n.admit.mu.Lock()
	pending := n.admit.logs["evil"].count
	n.admit.mu.Unlock()
	if pending != 999 {
		t.Fatalf("%d refusals counted for the next line, want 999", pending)
	}
	if got := n.Stats().ConnsRefused.Load(); got != 1001 {
		t.Fatalf("ConnsRefused %d, want 1001", got)
	}
}

// The flood limits are checked with the rest of the configuration.
func TestFloodLimitsValidate(t *testing.T) {
	f := memnet.NewFabric()
	bad := Config{Name: "gw", Role: kernel.RoleGateway, Network: f.Endpoint("gw", kernel.RoleGateway),
		HelloTimeout: -1, BlobStallTimeout: -1, MaxPendingPerPeer: -1, MaxBlobServesPerLink: -1}
	err := bad.Validate()
	if err == nil {
		t.Fatal("negative limits accepted")
	}
	for _, want := range []string{"HelloTimeout", "BlobStallTimeout", "MaxPendingPerPeer", "MaxBlobServesPerLink"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("validation error does not name %s: %v", want, err)
		}
	}
	small := Config{Name: "gw", Role: kernel.RoleGateway, Network: f.Endpoint("gw", kernel.RoleGateway), MaxPending: 2}
	if err := small.Validate(); err == nil || !strings.Contains(err.Error(), "MaxPending 2 must be at least MaxPendingPerPeer 4") {
		t.Errorf("MaxPending below MaxPendingPerPeer: %v", err)
	}
	ok := Config{Name: "gw", Role: kernel.RoleGateway, Network: f.Endpoint("gw", kernel.RoleGateway)}
	if err := ok.Validate(); err != nil {
		t.Errorf("defaults refused: %v", err)
	}
	if d := ok.withDefaults(); d.HelloTimeout >= d.LostAfter || d.MaxPendingPerPeer != 4 || d.MaxPending != 256 || d.MaxBlobServesPerLink != 4 {
		t.Errorf("defaults: hello %v (LostAfter %v), pending %d/%d, blob serves %d", d.HelloTimeout, d.LostAfter, d.MaxPendingPerPeer, d.MaxPending, d.MaxBlobServesPerLink)
	}
}

// A device that crashes and comes back before its old link timed out here
// shows the same certificate: its new link replaces the old one at once
// (no conflict, no wait for the old one to go silent).
func TestSameCertificateReplacesLiveLink(t *testing.T) {
	base := fastTimers
	base.HeartbeatInterval, base.LostAfter = 200*time.Millisecond, 2*time.Second
	tr, ca := quicFloodTree(t, base)
	ctl := tr.nodes["ctl"]
	id := ca.identity(t, "gw-9", kernel.RoleGateway)
	network := func() link.Network {
		nw, err := quicnet.New(quicnet.Config{Identity: id, Revoked: ca.auth.CA.IsRevoked})
		if err != nil {
			t.Fatal(err)
		}
		return nw
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	first, err := network().Dial(ctx, ctl.Addr(), "ctl")
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	if typ, p, err := rawCall(t, first, encode(tHello, hello{Version: ProtocolVersion})); typ != tHelloAck {
		t.Fatalf("first hello: %v %v %s", typ, err, p)
	}
	eventually(t, "gw-9 linked", func() bool { return ctl.Reaches("gw-9") })
	// The "restarted" device: same identity, a new connection, the old one
	// still open (a crash sends no close).
	again, err := network().Dial(ctx, ctl.Addr(), "ctl")
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if typ, p, err := rawCall(t, again, encode(tHello, hello{Version: ProtocolVersion})); typ != tHelloAck {
		t.Fatalf("the same certificate's new link was refused: %v %v %s", typ, err, p)
	}
	select {
	case <-first.Done():
	case <-ctx.Done():
		t.Fatal("the old link was not closed when the same certificate linked again")
	}
}
