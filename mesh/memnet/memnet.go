// Package memnet is an in-memory link.Network: a Fabric of named endpoints
// whose connections and streams are buffers in this process. It has the
// same semantics the mesh relies on from QUIC (authenticated peer names,
// half-closable streams with deadlines, a per-connection limit on open
// streams that blocks openers) and lets tests cut and heal links, so trees of
// thousands of nodes can be simulated without sockets.
package memnet

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/canopy-fleet/canopy/kernel"
	"github.com/canopy-fleet/canopy/mesh/link"
)

// Defaults of a Fabric.
const (
	DefaultMaxStreams = 100
	DefaultStreamBuf  = 256 << 10
	DefaultBacklog    = 256
)

// Fabric connects in-memory endpoints. The zero value is not usable; call
// NewFabric.
type Fabric struct {
	// MaxStreams is the number of streams a peer may have open on a
	// connection at once; further OpenStream calls block.
	MaxStreams int

	mu        sync.Mutex
	listeners map[string]*listener
	blocked   map[[2]kernel.NodeName]bool
	conns     map[*conn]bool
}

// NewFabric makes an empty fabric.
func NewFabric() *Fabric {
	return &Fabric{
		MaxStreams: DefaultMaxStreams,
		listeners:  map[string]*listener{},
		blocked:    map[[2]kernel.NodeName]bool{},
		conns:      map[*conn]bool{},
	}
}

// Endpoint returns the network as seen by the node name with role.
func (f *Fabric) Endpoint(name kernel.NodeName, role kernel.Role) link.Network {
	return &endpoint{f: f, self: link.Peer{Name: name, Role: role}}
}

func pairKey(a, b kernel.NodeName) [2]kernel.NodeName {
	if a > b {
		a, b = b, a
	}
	return [2]kernel.NodeName{a, b}
}

// Block cuts the link between a and b: open connections between them end
// and new dials fail until Unblock.
func (f *Fabric) Block(a, b kernel.NodeName) {
	f.mu.Lock()
	f.blocked[pairKey(a, b)] = true
	var cut []*conn
	for c := range f.conns {
		if pairKey(c.self.Name, c.peer.Name) == pairKey(a, b) {
			cut = append(cut, c)
		}
	}
	f.mu.Unlock()
	for _, c := range cut {
		c.Close()
	}
}

// Unblock heals a link cut by Block.
func (f *Fabric) Unblock(a, b kernel.NodeName) {
	f.mu.Lock()
	delete(f.blocked, pairKey(a, b))
	f.mu.Unlock()
}

type endpoint struct {
	f    *Fabric
	self link.Peer
}

func (e *endpoint) Listen(addr string) (link.Listener, error) {
	e.f.mu.Lock()
	defer e.f.mu.Unlock()
	if addr == "" {
		addr = "mem:" + string(e.self.Name)
	}
	if _, ok := e.f.listeners[addr]; ok {
		return nil, fmt.Errorf("memnet: listen %s: address in use", addr)
	}
	l := &listener{f: e.f, addr: addr, owner: e.self, accept: make(chan *conn, DefaultBacklog), done: make(chan struct{})}
	e.f.listeners[addr] = l
	return l, nil
}

func (e *endpoint) Dial(ctx context.Context, addr string, want kernel.NodeName) (link.Conn, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	e.f.mu.Lock()
	l := e.f.listeners[addr]
	if l == nil {
		e.f.mu.Unlock()
		return nil, fmt.Errorf("memnet: dial %s: connection refused", addr)
	}
	if e.f.blocked[pairKey(e.self.Name, l.owner.Name)] {
		e.f.mu.Unlock()
		return nil, fmt.Errorf("memnet: dial %s: link blocked", addr)
	}
	if want != "" && l.owner.Name != want {
		e.f.mu.Unlock()
		return nil, fmt.Errorf("memnet: dial %s: peer is %q, want %q", addr, l.owner.Name, want)
	}
	client, server := newConnPair(e.self, l.owner, e.f.MaxStreams)
	e.f.conns[client] = true
	e.f.conns[server] = true
	e.f.mu.Unlock()
	go func() {
		<-client.done
		e.f.mu.Lock()
		delete(e.f.conns, client)
		delete(e.f.conns, server)
		e.f.mu.Unlock()
	}()
	select {
	case l.accept <- server:
		return client, nil
	case <-l.done:
	default:
	}
	client.Close()
	return nil, fmt.Errorf("memnet: dial %s: listener backlog full or closed", addr)
}

type listener struct {
	f      *Fabric
	addr   string
	owner  link.Peer
	accept chan *conn
	done   chan struct{}
	once   sync.Once
}

func (l *listener) Accept(ctx context.Context) (link.Conn, error) {
	select {
	case c := <-l.accept:
		return c, nil
	case <-l.done:
		return nil, link.ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (l *listener) Addr() string { return l.addr }

func (l *listener) Close() error {
	l.once.Do(func() {
		close(l.done)
		l.f.mu.Lock()
		if l.f.listeners[l.addr] == l {
			delete(l.f.listeners, l.addr)
		}
		l.f.mu.Unlock()
	})
	return nil
}

// conn is one end of an in-memory connection.
type conn struct {
	self, peer link.Peer
	remote     *conn
	incoming   chan *stream  // streams the peer opened, for AcceptStream
	slots      chan struct{} // the peer's limit on streams this end opens
	done       chan struct{}
	once       *sync.Once
	mu         *sync.Mutex
	live       map[*stream]bool
}

func newConnPair(a, b link.Peer, maxStreams int) (*conn, *conn) {
	if maxStreams <= 0 {
		maxStreams = DefaultMaxStreams
	}
	done, once, mu, live := make(chan struct{}), &sync.Once{}, &sync.Mutex{}, map[*stream]bool{}
	ca := &conn{self: a, peer: b, incoming: make(chan *stream, maxStreams), slots: make(chan struct{}, maxStreams), done: done, once: once, mu: mu, live: live}
	cb := &conn{self: b, peer: a, incoming: make(chan *stream, maxStreams), slots: make(chan struct{}, maxStreams), done: done, once: once, mu: mu, live: live}
	ca.remote, cb.remote = cb, ca
	return ca, cb
}

func (c *conn) Peer() link.Peer       { return c.peer }
func (c *conn) RTT() time.Duration    { return 0 }
func (c *conn) Done() <-chan struct{} { return c.done }

func (c *conn) Close() error {
	c.once.Do(func() {
		close(c.done)
		c.mu.Lock()
		for s := range c.live {
			s.Abort()
		}
		c.mu.Unlock()
	})
	return nil
}

func (c *conn) OpenStream(ctx context.Context) (link.Stream, error) {
	select {
	case c.slots <- struct{}{}:
	case <-c.done:
		return nil, link.ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	var mu sync.Mutex
	finished := 0
	var local, remote *stream
	release := func() {
		mu.Lock()
		finished++
		last := finished == 2
		mu.Unlock()
		if last {
			<-c.slots
			c.mu.Lock()
			delete(c.live, local)
			delete(c.live, remote)
			c.mu.Unlock()
		}
	}
	a, b := newHalf(DefaultStreamBuf, release), newHalf(DefaultStreamBuf, release)
	local, remote = &stream{in: a, out: b}, &stream{in: b, out: a}
	c.mu.Lock()
	select {
	case <-c.done:
		c.mu.Unlock()
		return nil, link.ErrClosed
	default:
	}
	c.live[local], c.live[remote] = true, true
	c.mu.Unlock()
	c.remote.incoming <- remote // never blocks: capacity equals the slot count
	return local, nil
}

func (c *conn) AcceptStream(ctx context.Context) (link.Stream, error) {
	select {
	case s := <-c.incoming:
		return s, nil
	case <-c.done:
		return nil, link.ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
