package mesh

import (
	"context"
	"encoding/binary"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/canopy-fleet/canopy/kernel"
	"github.com/canopy-fleet/canopy/mesh/clock"
	"github.com/canopy-fleet/canopy/mesh/frame"
	"github.com/canopy-fleet/canopy/mesh/link"
	"github.com/canopy-fleet/canopy/mesh/memnet"
)

// rawCall sends raw bytes on a new stream and returns the reply frame.
func rawCall(t *testing.T, c link.Conn, raw []byte) (frame.Type, []byte, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := c.OpenStream(ctx)
	if err != nil {
		return 0, nil, err
	}
	s.SetDeadline(time.Now().Add(5 * time.Second))
	s.Write(raw)
	s.CloseWrite()
	return frame.Read(s, 1<<20)
}

func encode(t frame.Type, v any) []byte {
	p, _ := frame.Marshal(v)
	b := make([]byte, frame.HeaderSize+len(p))
	b[0] = byte(t)
	binary.BigEndian.PutUint32(b[1:], uint32(len(p)))
	copy(b[frame.HeaderSize:], p)
	return b
}

func errCode(t *testing.T, typ frame.Type, p []byte, err error) string {
	t.Helper()
	if err != nil {
		t.Fatalf("no reply: %v", err)
	}
	if typ != tError {
		t.Fatalf("reply type %d, want error", typ)
	}
	var e errorMsg
	if err := frame.Unmarshal(p, &e); err != nil {
		t.Fatal(err)
	}
	return e.Code
}

func TestBadInput(t *testing.T) {
	f := memnet.NewFabric()
	base := fastTimers
	base.RequestTimeout = 500 * time.Millisecond
	tr := newTree(t, func(n kernel.NodeName, r kernel.Role) link.Network { return f.Endpoint(n, r) }, base)
	ctl := tr.start("ctl", kernel.RoleController, "mem:ctl")
	ctl.Handle("echo", func(_ context.Context, _ kernel.NodeName, b []byte) ([]byte, error) { return b, nil })
	good := tr.start("good", kernel.RoleLeaf, "", "ctl")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := good.WaitParent(ctx); err != nil {
		t.Fatal(err)
	}
	responsive := func(what string) {
		t.Helper()
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if b, err := good.Request(rctx, "", "echo", []byte("ok")); err != nil || string(b) != "ok" {
			t.Fatalf("node unresponsive after %s: %v", what, err)
		}
	}
	evil := f.Endpoint("evil", kernel.RoleLeaf)

	t.Run("version mismatch", func(t *testing.T) {
		c, err := evil.Dial(ctx, "mem:ctl", "")
		if err != nil {
			t.Fatal(err)
		}
		typ, p, err := rawCall(t, c, encode(tHello, hello{Version: 99}))
		if code := errCode(t, typ, p, err); code != CodeVersion {
			t.Fatalf("code %s", code)
		}
		// Another version's hello, with fields this one lacks: still a
		// version error, not a malformed hello.
		c2, err := evil.Dial(ctx, "mem:ctl", "")
		if err != nil {
			t.Fatal(err)
		}
		defer c2.Close()
		future := map[string]any{"Version": ProtocolVersion + 1, "Routes": nil, "Interest": nil, "Compression": "zstd"}
		typ, p, err = rawCall(t, c2, encode(tHello, future))
		if code := errCode(t, typ, p, err); code != CodeVersion {
			t.Fatalf("future hello: code %s", code)
		}
		eventually(t, "connection closed", func() bool {
			select {
			case <-c.Done():
				return true
			default:
				return false
			}
		})
	})
	t.Run("first frame not hello", func(t *testing.T) {
		c, _ := evil.Dial(ctx, "mem:ctl", "")
		typ, p, err := rawCall(t, c, encode(tHeartbeat, heartbeat{}))
		if code := errCode(t, typ, p, err); code != CodeBadRequest {
			t.Fatalf("code %s", code)
		}
		c.Close()
	})

	// A linked peer sending garbage after a good hello.
	c, err := evil.Dial(ctx, "mem:ctl", "")
	if err != nil {
		t.Fatal(err)
	}
	if typ, _, err := rawCall(t, c, encode(tHello, hello{Version: ProtocolVersion})); err != nil || typ != tHelloAck {
		t.Fatalf("hello: %d %v", typ, err)
	}
	cases := []struct {
		name string
		raw  []byte
		code string
	}{
		{"truncated header", []byte{byte(tRequest), 0, 0}, CodeBadRequest},
		{"truncated payload", encode(tRequest, envelope{Src: "evil", Kind: "echo"})[:8], CodeBadRequest},
		{"oversized", []byte{byte(tRequest), 0x7f, 0xff, 0xff, 0xff}, CodeBadRequest},
		{"unknown type", encode(200, map[string]int{"x": 1}), CodeUnknownType},
		{"garbage cbor", append([]byte{byte(tRequest), 0, 0, 0, 3}, 0xff, 0xff, 0xff), CodeBadRequest},
		{"unknown field", encode(tRequest, map[string]any{"Src": "evil", "Evil": 1}), CodeBadRequest},
		{"spoofed source", encode(tRequest, envelope{Src: "good", Kind: "echo"}), CodeBadRequest},
		{"trailing bytes", append(encode(tHeartbeat, heartbeat{}), 1, 2, 3), CodeBadRequest},
		{"bad topic", encode(tPublish, Message{ID: "x", Topic: "a/+/b"}), CodeBadRequest},
		{"bad interest", encode(tInterest, interest{Filters: []string{"a/#/b"}}), CodeBadRequest},
		{"bad digest", encode(tBlobGet, blobGet{Digest: "sha256:../../x"}), CodeBadRequest},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			typ, p, err := rawCall(t, c, tc.raw)
			if code := errCode(t, typ, p, err); code != tc.code {
				t.Fatalf("code %s, want %s", code, tc.code)
			}
		})
	}
	if ctl.Stats().Dropped.Load() < 8 { // every frame-level rejection is counted
		t.Fatalf("dropped counter %d", ctl.Stats().Dropped.Load())
	}
	responsive("garbage frames")

	t.Run("stream flood", func(t *testing.T) {
		// Open streams and never finish them: the per-link limit blocks the
		// flooder, and the node keeps serving others.
		opened := 0
		fctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		defer cancel()
		for i := 0; i < 1000; i++ {
			s, err := c.OpenStream(fctx)
			if err != nil {
				break
			}
			s.Write([]byte{byte(tRequest), 0, 0})
			opened++
		}
		if opened >= 1000 {
			t.Fatal("no back-pressure: opened 1000 streams")
		}
		responsive("stream flood")
	})
	t.Run("connection flood", func(t *testing.T) {
		var conns []link.Conn
		for i := 0; i < 200; i++ {
			cc, err := evil.Dial(ctx, "mem:ctl", "")
			if err != nil {
				break
			}
			conns = append(conns, cc)
		}
		responsive("connection flood")
		// Connections that never say hello are dropped after the timeout.
		eventually(t, "silent connections closed", func() bool {
			for _, cc := range conns {
				select {
				case <-cc.Done():
				default:
					return false
				}
			}
			return true
		})
	})
}

// A silent child (hello, then no heartbeats) is declared lost within
// LostAfter of its last sign of life (plus the fake clock's step: the
// clock moves in steps, so a timer fires up to one step late); a child
// that beats normally is never declared lost, on a fake clock that moves
// in small jittery steps.
func TestHeartbeatLossOnFakeClock(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	f := memnet.NewFabric()
	base := Config{Clock: clk, HeartbeatInterval: 500 * time.Millisecond, LostAfter: 2 * time.Second, ReportInterval: time.Hour}
	tr := newTree(t, func(n kernel.NodeName, r kernel.Role) link.Network { return f.Endpoint(n, r) }, base)
	tr.start("ctl", kernel.RoleController, "mem:ctl")
	beating := tr.start("beating", kernel.RoleLeaf, "", "ctl")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := beating.WaitParent(ctx); err != nil {
		t.Fatal(err)
	}
	c, err := f.Endpoint("silent", kernel.RoleLeaf).Dial(ctx, "mem:ctl", "")
	if err != nil {
		t.Fatal(err)
	}
	if typ, _, err := rawCall(t, c, encode(tHello, hello{Version: ProtocolVersion})); err != nil || typ != tHelloAck {
		t.Fatalf("hello: %v", err)
	}
	ev := tr.ev["ctl"]
	eventually(t, "silent child up", func() bool { return ev.count(EventChildUp, "silent") == 1 })
	upAt := clk.Now()
	steps := []time.Duration{90, 110, 100, 70, 130} // ms: jittery ticks
	for i := 0; i < 50; i++ {
		clk.Advance(steps[i%len(steps)] * time.Millisecond)
		time.Sleep(5 * time.Millisecond)
	}
	var lostAt time.Time
	ev.mu.Lock()
	for _, e := range ev.ev {
		if e.Kind == EventChildLost && e.Peer == "silent" {
			lostAt = e.At
		}
	}
	ev.mu.Unlock()
	if lostAt.IsZero() {
		t.Fatal("silent child never declared lost")
	}
	t.Logf("silent child declared lost %v after its hello", lostAt.Sub(upAt))
	maxStep := slices.Max(steps) * time.Millisecond
	if d, bound := lostAt.Sub(upAt), base.LostAfter+maxStep; d > bound {
		t.Fatalf("silent child declared lost after %v, want within LostAfter %v + one clock step %v = %v", d, base.LostAfter, maxStep, bound)
	}
	if n := ev.count(EventChildLost, "beating"); n != 0 {
		t.Fatalf("beating child declared lost %d times", n)
	}
}

// Errors wrap sentinels callers can test.
func TestRoutingErrors(t *testing.T) {
	f := memnet.NewFabric()
	n, err := New(Config{Name: "orphan", Role: kernel.RoleLeaf, Network: f.Endpoint("orphan", kernel.RoleLeaf), Parents: []Parent{{Addr: "mem:nowhere"}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.Request(context.Background(), "", "x", nil); !errors.Is(err, ErrNoParent) {
		t.Fatalf("got %v", err)
	}
	bad := Config{Name: "Bad Name", Role: "king", HeartbeatInterval: time.Second, LostAfter: time.Second, Parents: []Parent{{}}}
	err = bad.Validate()
	if err == nil {
		t.Fatal("bad config accepted")
	}
	for _, want := range []string{"Name", "Role", "Network", "Parents[0].Addr", "LostAfter"} {
		if !contains(err.Error(), want) {
			t.Errorf("validation error does not name %s: %v", want, err)
		}
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
