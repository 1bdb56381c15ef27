package mesh

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/canopy-fleet/canopy/kernel"
	"github.com/canopy-fleet/canopy/mesh/identity"
	"github.com/canopy-fleet/canopy/mesh/link"
	"github.com/canopy-fleet/canopy/mesh/quicnet"
)

// testCA issues identities for QUIC test trees.
type testCA struct {
	auth *identity.Authority
}

func newTestCA(t *testing.T) *testCA {
	ca, err := identity.LoadOrCreateCA(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return &testCA{auth: &identity.Authority{CA: ca, Tokens: identity.NewTokens(nil)}}
}

func (c *testCA) identity(t *testing.T, name kernel.NodeName, role kernel.Role) *identity.Node {
	t.Helper()
	n, err := c.auth.Issue(t.TempDir(), name, role)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func (c *testCA) network(t *testing.T, name kernel.NodeName, role kernel.Role) link.Network {
	n, err := quicnet.New(quicnet.Config{Identity: c.identity(t, name, role), Revoked: c.auth.CA.IsRevoked, MaxIdleTimeout: 2 * time.Second, KeepAlivePeriod: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// cutter wraps networks so a test can cut the link between two nodes:
// their connections are closed and new dials between them refused until
// healed. It cuts real QUIC connections the way memnet cuts its own.
type cutter struct {
	mu    sync.Mutex
	cut   map[[2]kernel.NodeName]bool
	conns map[link.Conn][2]kernel.NodeName
}

func newCutter() *cutter {
	return &cutter{cut: map[[2]kernel.NodeName]bool{}, conns: map[link.Conn][2]kernel.NodeName{}}
}

func key(a, b kernel.NodeName) [2]kernel.NodeName {
	if a > b {
		a, b = b, a
	}
	return [2]kernel.NodeName{a, b}
}

func (c *cutter) block(a, b kernel.NodeName) {
	c.mu.Lock()
	c.cut[key(a, b)] = true
	var doomed []link.Conn
	for conn, k := range c.conns {
		if k == key(a, b) {
			doomed = append(doomed, conn)
		}
	}
	c.mu.Unlock()
	for _, conn := range doomed {
		conn.Close()
	}
}

func (c *cutter) unblock(a, b kernel.NodeName) {
	c.mu.Lock()
	delete(c.cut, key(a, b))
	c.mu.Unlock()
}

func (c *cutter) track(self kernel.NodeName, conn link.Conn) (link.Conn, error) {
	k := key(self, conn.Peer().Name)
	c.mu.Lock()
	if c.cut[k] {
		c.mu.Unlock()
		conn.Close()
		return nil, context.DeadlineExceeded
	}
	c.conns[conn] = k
	c.mu.Unlock()
	go func() {
		<-conn.Done()
		c.mu.Lock()
		delete(c.conns, conn)
		c.mu.Unlock()
	}()
	return conn, nil
}

type cutNet struct {
	link.Network
	self kernel.NodeName
	c    *cutter
}

func (n cutNet) Dial(ctx context.Context, addr string, want kernel.NodeName) (link.Conn, error) {
	conn, err := n.Network.Dial(ctx, addr, want)
	if err != nil {
		return nil, err
	}
	return n.c.track(n.self, conn)
}

func (n cutNet) Listen(addr string) (link.Listener, error) {
	l, err := n.Network.Listen(addr)
	if err != nil {
		return nil, err
	}
	return cutListener{l, n}, nil
}

type cutListener struct {
	link.Listener
	n cutNet
}

func (l cutListener) Accept(ctx context.Context) (link.Conn, error) {
	for {
		conn, err := l.Listener.Accept(ctx)
		if err != nil {
			return nil, err
		}
		if c, err := l.n.c.track(l.n.self, conn); err == nil {
			return c, nil
		}
	}
}

func quicTree(t *testing.T, base Config) (*tree, *cutter) {
	ca := newTestCA(t)
	cut := newCutter()
	tr := newTree(t, func(n kernel.NodeName, r kernel.Role) link.Network {
		return cutNet{Network: ca.network(t, n, r), self: n, c: cut}
	}, base)
	return tr, cut
}

func quicListen(kernel.NodeName) string { return "127.0.0.1:0" }

func TestTreeQUIC(t *testing.T) {
	treeSuite(t, func(t *testing.T) (*tree, func(kernel.NodeName) string, func(a, b kernel.NodeName), func(a, b kernel.NodeName)) {
		// Real sockets under -race on a shared 2-core machine jitter more than
		// memnet: keep the loss timeout well above the heartbeat interval.
		timers := fastTimers
		timers.HeartbeatInterval, timers.LostAfter = 200*time.Millisecond, 2*time.Second
		tr, cut := quicTree(t, timers)
		return tr, quicListen, cut.block, cut.unblock
	})
}
