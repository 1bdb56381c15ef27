// Package raftlayer carries hashicorp/raft's traffic over the mesh's
// authenticated network: it is a raft.StreamLayer whose connections are
// streams inside link.Conns (QUIC with mutual TLS in a fleet, memnet in
// tests), so the controllers' Raft traffic needs no second transport and no
// second set of credentials. One link.Conn per peer address is kept and
// each raft connection is a stream in it.
package raftlayer

import (
	"context"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/raft"

	"github.com/canopy-fleet/canopy/kernel"
	"github.com/canopy-fleet/canopy/mesh/link"
)

// Layer is a raft.StreamLayer over a link.Network.
type Layer struct {
	network link.Network
	ln      link.Listener
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	accept  chan net.Conn

	mu    sync.Mutex
	conns map[string]link.Conn
}

var _ raft.StreamLayer = (*Layer)(nil)

// Listen makes a layer that accepts raft connections on addr.
func Listen(network link.Network, addr string) (*Layer, error) {
	ln, err := network.Listen(addr)
	if err != nil {
		return nil, fmt.Errorf("raftlayer: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	l := &Layer{network: network, ln: ln, ctx: ctx, cancel: cancel, accept: make(chan net.Conn), conns: map[string]link.Conn{}}
	l.wg.Add(1)
	go l.acceptConns()
	return l, nil
}

func (l *Layer) acceptConns() {
	defer l.wg.Done()
	for {
		c, err := l.ln.Accept(l.ctx)
		if err != nil {
			return
		}
		if err := controllerOnly(c); err != nil {
			c.Close() // raft does no authentication of its own: only controllers may speak it
			continue
		}
		l.wg.Add(1)
		go l.acceptStreams(c)
	}
}

func (l *Layer) acceptStreams(c link.Conn) {
	defer l.wg.Done()
	defer c.Close()
	for {
		s, err := c.AcceptStream(l.ctx)
		if err != nil {
			return
		}
		select {
		case l.accept <- wrap(s, l.Addr(), addr(c.Peer().Name)):
		case <-l.ctx.Done():
			s.Abort()
			return
		}
	}
}

// Accept returns the next raft connection a peer opened.
func (l *Layer) Accept() (net.Conn, error) {
	select {
	case c := <-l.accept:
		return c, nil
	case <-l.ctx.Done():
		return nil, net.ErrClosed
	}
}

// Close stops accepting and closes every connection of the layer.
func (l *Layer) Close() error {
	l.cancel()
	l.ln.Close()
	l.mu.Lock()
	for _, c := range l.conns {
		c.Close()
	}
	l.mu.Unlock()
	l.wg.Wait()
	return nil
}

// Addr is the listen address.
func (l *Layer) Addr() net.Addr { return addr(l.ln.Addr()) }

// Dial opens a raft connection to address: a new stream on the cached
// link to that address, dialing the link first when there is none.
func (l *Layer) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(l.ctx, timeout)
	defer cancel()
	for attempt := 0; attempt < 2; attempt++ {
		c, err := l.conn(ctx, string(address))
		if err != nil {
			return nil, err
		}
		s, err := c.OpenStream(ctx)
		if err == nil {
			return wrap(s, l.Addr(), addr(address)), nil
		}
		// A dead cached link: forget it and dial again once.
		l.mu.Lock()
		if l.conns[string(address)] == c {
			delete(l.conns, string(address))
		}
		l.mu.Unlock()
		c.Close()
	}
	return nil, fmt.Errorf("raftlayer: dial %s: no usable link", address)
}

func (l *Layer) conn(ctx context.Context, address string) (link.Conn, error) {
	l.mu.Lock()
	c := l.conns[address]
	l.mu.Unlock()
	if c != nil {
		select {
		case <-c.Done():
		default:
			return c, nil
		}
	}
	c, err := l.network.Dial(ctx, address, "")
	if err != nil {
		return nil, fmt.Errorf("raftlayer: dial %s: %w", address, err)
	}
	if err := controllerOnly(c); err != nil {
		c.Close()
		return nil, fmt.Errorf("raftlayer: dial %s: %w", address, err)
	}
	l.mu.Lock()
	if old := l.conns[address]; old != nil && old != c {
		old.Close()
	}
	l.conns[address] = c
	l.mu.Unlock()
	l.wg.Add(1)
	go func() { // the dialed link also carries streams the peer opens
		l.acceptStreams(c)
	}()
	return c, nil
}

// controllerOnly refuses a link whose peer's certificate is not a
// controller's: raft trusts every message it gets, so a leaf or gateway
// (whose certificate is from the same cluster CA) must not reach it.
func controllerOnly(c link.Conn) error {
	if p := c.Peer(); p.Role != kernel.RoleController {
		return fmt.Errorf("peer %s is a %s, and raft is spoken between controllers only", p.Name, p.Role)
	}
	return nil
}

type addr string

func (a addr) Network() string { return "canopy-mesh" }
func (a addr) String() string  { return string(a) }

// conn adapts a link.Stream to net.Conn.
type conn struct {
	link.Stream
	local, remote net.Addr
	once          sync.Once
}

func wrap(s link.Stream, local, remote net.Addr) *conn {
	return &conn{Stream: s, local: local, remote: remote}
}

func (c *conn) LocalAddr() net.Addr  { return c.local }
func (c *conn) RemoteAddr() net.Addr { return c.remote }

// Close ends the sending side and, once the peer has ended its side (or
// after a grace period), releases the stream.
func (c *conn) Close() error {
	c.once.Do(func() {
		c.Stream.CloseWrite()
		go func() {
			c.Stream.SetDeadline(time.Now().Add(5 * time.Second))
			buf := make([]byte, 4096)
			for {
				if _, err := c.Stream.Read(buf); err != nil {
					break
				}
			}
			c.Stream.Abort()
		}()
	})
	return nil
}

type splitDeadlines interface {
	SetReadDeadline(time.Time) error
	SetWriteDeadline(time.Time) error
}

// SetReadDeadline uses the stream's read deadline where it has one
// (QUIC); otherwise it bounds both directions.
func (c *conn) SetReadDeadline(t time.Time) error {
	if s, ok := c.Stream.(splitDeadlines); ok {
		return s.SetReadDeadline(t)
	}
	return c.Stream.SetDeadline(t)
}

// SetWriteDeadline is like SetReadDeadline for writes.
func (c *conn) SetWriteDeadline(t time.Time) error {
	if s, ok := c.Stream.(splitDeadlines); ok {
		return s.SetWriteDeadline(t)
	}
	return c.Stream.SetDeadline(t)
}
