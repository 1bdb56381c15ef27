package mesh

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/canopy-fleet/canopy/kernel"
	"github.com/canopy-fleet/canopy/mesh/internal/udpproxy"
	"github.com/canopy-fleet/canopy/mesh/link"
	"github.com/canopy-fleet/canopy/mesh/quicnet"
)

// Over QUIC, keep-alive packets are the heartbeat: an idle child stays
// linked through several LostAfter windows on its first heartbeat message
// alone (no stream per beat), and when every packet is dropped (a crash
// or a pulled cable: no close) the parent declares the child lost and the
// child its parent, each for want of packets.
func TestTransportLiveness(t *testing.T) {
	pt := newProofTree(t)
	pt.base.HeartbeatInterval, pt.base.LostAfter = 100*time.Millisecond, time.Second
	pt.base.AppHeartbeatInterval = 10 * time.Second
	p := newProxiedLink(t, pt, 0)
	ctl, ctlEv, leafEv := p.ctl, p.ctlEv, p.leafEv
	ctl.mu.Lock()
	lv := ctl.children["leaf-1"].lv
	ctl.mu.Unlock()
	if lv == nil {
		t.Fatal("the QUIC link has no transport liveness")
	}

	// Three LostAfter windows idle: linked all along, on one heartbeat.
	time.Sleep(3 * pt.base.LostAfter)
	if n := ctlEv.count(EventChildLost, "leaf-1"); n != 0 {
		t.Fatalf("idle leaf-1 lost %d times", n)
	}
	if n := ctl.Stats().HeartbeatsReceived.Load(); n != 1 {
		t.Errorf("%d heartbeat messages received in 3 s, want the first alone (AppHeartbeatInterval %v)", n, pt.base.AppHeartbeatInterval)
	}
	askWho(t, ctl, "leaf-1")

	p.dropAll(t)
	for _, c := range []struct {
		ev   *events
		kind EventKind
	}{{ctlEv, EventChildLost}, {leafEv, EventParentLost}} {
		c.ev.mu.Lock()
		for _, e := range c.ev.ev {
			if e.Kind == c.kind && !strings.Contains(e.Reason, "nothing received") {
				t.Errorf("%s: %q, want a loss for want of packets", c.kind, e.Reason)
			}
		}
		c.ev.mu.Unlock()
	}
	if n := ctl.Stats().HeartbeatTimeouts.Load(); n != 1 {
		t.Errorf("%d heartbeat timeouts at ctl, want 1", n)
	}
}

// proxiedLink is ctl and leaf-1 of pt linked through a UDP proxy, with
// their events.
type proxiedLink struct {
	ctl           *Node
	ctlEv, leafEv *events
	proxy         *udpproxy.Proxy
}

// newProxiedLink starts them, the proxy holding each packet delay each way.
func newProxiedLink(t *testing.T, pt *proofTree, delay time.Duration) *proxiedLink {
	t.Helper()
	p := &proxiedLink{ctlEv: newEvents(), leafEv: newEvents()}
	p.ctl = pt.nodeWith(pt.ca.identity(t, "ctl", kernel.RoleController), func(c *Config, _ *quicnet.Network) { c.OnEvent = p.ctlEv.add })
	var err error
	if p.proxy, err = udpproxy.New(p.ctl.Addr()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.proxy.Close)
	p.proxy.Delay(delay)
	pt.nodeWith(pt.ca.identity(t, "leaf-1", kernel.RoleLeaf), func(c *Config, _ *quicnet.Network) {
		c.Parents = []Parent{{Addr: p.proxy.Addr(), Name: "ctl"}}
		c.OnEvent = p.leafEv.add
		c.DialTimeout = 10 * time.Second
	})
	eventually(t, "leaf-1 ready at ctl", func() bool { return p.ctlEv.count(EventChildReady, "leaf-1") == 1 })
	return p
}

// dropAll drops every packet and waits until each end has lost the other.
func (p *proxiedLink) dropAll(t *testing.T) {
	t.Helper()
	p.proxy.Drop(true)
	eventually(t, "leaf-1 lost at ctl", func() bool { return p.ctlEv.count(EventChildLost, "leaf-1") == 1 })
	eventually(t, "ctl lost at leaf-1", func() bool { return p.leafEv.count(EventParentLost, "ctl") >= 1 })
}

type keepAliveConn struct {
	link.Conn
	ka time.Duration
}

func (c keepAliveConn) Received() uint64         { return 0 }
func (c keepAliveConn) KeepAlive() time.Duration { return c.ka }

// Transport liveness stands in for heartbeat messages only when its
// keep-alive is at most a third of LostAfter.
func TestLivenessNeedsKeepAliveWithinLostAfter(t *testing.T) {
	n := &Node{cfg: Config{LostAfter: 2 * time.Second}}
	for _, c := range []struct {
		ka   time.Duration
		want bool
	}{{500 * time.Millisecond, true}, {2 * time.Second / 3, true}, {700 * time.Millisecond, false}, {0, false}} {
		if got := n.liveness(keepAliveConn{ka: c.ka}) != nil; got != c.want {
			t.Errorf("keep-alive %v with LostAfter 2s: liveness %v, want %v", c.ka, got, c.want)
		}
	}
	if n.liveness(keepAliveConn{}.Conn) != nil {
		t.Error("a connection without liveness has it")
	}
}

// On a slow link (a 700 ms round trip: quic-go then waits 1.5 probe
// timeouts, over a second, before a keep-alive) the child beats every
// HeartbeatInterval again, so neither end takes the idle link for lost;
// when every packet is then dropped both ends still notice.
func TestTransportLivenessSlowLink(t *testing.T) {
	pt := newProofTree(t)
	pt.base.HeartbeatInterval, pt.base.LostAfter = 500*time.Millisecond, 2*time.Second
	p := newProxiedLink(t, pt, 350*time.Millisecond)
	ctl, ctlEv, leafEv := p.ctl, p.ctlEv, p.leafEv
	time.Sleep(4 * pt.base.LostAfter)
	if n, m := ctlEv.count(EventChildLost, "leaf-1"), leafEv.count(EventParentLost, "ctl"); n != 0 || m != 0 {
		t.Fatalf("idle slow link lost %d times at ctl, %d at leaf-1: %v", n, m, ctlEv.ev)
	}
	if n := ctl.Stats().HeartbeatsReceived.Load(); n < 3 {
		t.Errorf("%d heartbeat messages on the slow link, want one every HeartbeatInterval", n)
	}
	p.dropAll(t)
}

// A parent judges a child by the heartbeat interval the child declared,
// not by its own, within its bounds, and says which in its ack: a parent
// configured for a beat every 300 ms keeps a child that asks for an hour,
// holding it to a minute (a hung node is not kept linked for hours).
func TestChildDeclaresItsBeat(t *testing.T) {
	pt := newProofTree(t)
	pt.base.HeartbeatInterval, pt.base.LostAfter = 100*time.Millisecond, time.Second
	ctl, leaf, ctlEv := linkedPair(t, pt, func(c *Config) { c.AppHeartbeatInterval = 300 * time.Millisecond },
		func(c *Config) { c.AppHeartbeatInterval = time.Hour })
	ctl.mu.Lock()
	beat := ctl.children["leaf-1"].beat
	ctl.mu.Unlock()
	leaf.mu.Lock()
	told := leaf.parent.beat
	leaf.mu.Unlock()
	if beat != time.Minute || told != time.Minute {
		t.Fatalf("beat held %v at ctl and %v at leaf-1, want the minute ctl allows", beat, told)
	}
	time.Sleep(3 * pt.base.LostAfter)
	if n := ctlEv.count(EventChildLost, "leaf-1"); n != 0 {
		t.Fatalf("leaf-1 lost %d times: %v", n, ctlEv.ev)
	}
}

// A parent whose transport cannot stand in for beats (its keep-alive too
// long for its LostAfter) accepts no declared interval; the child, told
// so in the ack, beats every HeartbeatInterval and stays linked.
func TestParentRefusesTheBeat(t *testing.T) {
	pt := newProofTree(t)
	pt.base.HeartbeatInterval, pt.base.LostAfter = 100*time.Millisecond, time.Second
	ctl, leaf, ctlEv := linkedPair(t, pt, func(c *Config) {
		c.LostAfter = 500 * time.Millisecond // under three of its 200 ms keep-alives
	}, func(*Config) {})
	ctl.mu.Lock()
	atCtl := ctl.children["leaf-1"].lv
	ctl.mu.Unlock()
	leaf.mu.Lock()
	atLeaf := leaf.parent.lv
	leaf.mu.Unlock()
	if atCtl != nil || atLeaf != nil {
		t.Fatalf("liveness at ctl %v, at leaf-1 %v: want beats at both ends", atCtl != nil, atLeaf != nil)
	}
	time.Sleep(3 * pt.base.LostAfter)
	if n := ctlEv.count(EventChildLost, "leaf-1"); n != 0 {
		t.Fatalf("leaf-1 lost %d times: %v", n, ctlEv.ev)
	}
	if n := ctl.Stats().HeartbeatsReceived.Load(); n < 10 {
		t.Errorf("%d heartbeat messages in 3 s, want one every 100 ms", n)
	}
}

// A beat goes on the wire in whole milliseconds, rounded up, and never
// wraps; a parent holds a declared one within its bounds.
func TestBeatBounds(t *testing.T) {
	for _, c := range []struct {
		d    time.Duration
		want uint32
	}{{0, 0}, {time.Microsecond, 1}, {1500 * time.Microsecond, 2}, {10 * time.Second, 10000}, {100 * 24 * time.Hour, math.MaxUint32}} {
		if got := beatMillis(c.d); got != c.want {
			t.Errorf("beatMillis(%v) = %d, want %d", c.d, got, c.want)
		}
	}
	n := &Node{cfg: Config{HeartbeatInterval: 500 * time.Millisecond, LostAfter: 2 * time.Second, AppHeartbeatInterval: 10 * time.Second}}
	c := keepAliveConn{ka: 500 * time.Millisecond}
	for _, x := range []struct {
		ms   uint32
		want time.Duration
	}{{0, 0}, {1, 500 * time.Millisecond}, {10000, 10 * time.Second}, {math.MaxUint32, time.Minute}} {
		if got := n.acceptBeat(c, hello{Beat: x.ms}); got != x.want {
			t.Errorf("declared %d ms: accepted %v, want %v", x.ms, got, x.want)
		}
	}
	if got := n.acceptBeat(keepAliveConn{ka: time.Second}, hello{Beat: 10000}); got != 0 {
		t.Errorf("keep-alive too long for LostAfter: accepted %v", got)
	}
}

// linkedPair starts ctl and leaf-1 under it in pt, each config changed by
// its tweak, and waits until leaf-1 is ready; it returns ctl's events.
func linkedPair(t *testing.T, pt *proofTree, ctlTweak, leafTweak func(*Config)) (ctl, leaf *Node, ctlEv *events) {
	t.Helper()
	ctlEv = newEvents()
	ctl = pt.nodeWith(pt.ca.identity(t, "ctl", kernel.RoleController), func(c *Config, _ *quicnet.Network) {
		c.OnEvent = ctlEv.add
		ctlTweak(c)
	})
	leaf = pt.nodeWith(pt.ca.identity(t, "leaf-1", kernel.RoleLeaf), func(c *Config, _ *quicnet.Network) { leafTweak(c) }, "ctl")
	eventually(t, "leaf-1 ready at ctl", func() bool { return ctlEv.count(EventChildReady, "leaf-1") == 1 })
	return ctl, leaf, ctlEv
}
