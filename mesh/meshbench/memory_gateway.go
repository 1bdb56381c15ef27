package meshbench

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/canopy-fleet/canopy/kernel"
	"github.com/canopy-fleet/canopy/mesh"
	"github.com/canopy-fleet/canopy/mesh/identity"
	"github.com/canopy-fleet/canopy/mesh/link"
	"github.com/canopy-fleet/canopy/mesh/quicnet"
)

// memGateway is the parent side of the memory measurement: a mesh gateway
// or, for the transport's floor, a bare quicnet listener.
type memGateway struct {
	addr   func() string
	linked func() int
	close  func()
	churn  func() string // links refused or lost while the children linked: each one more handshake's garbage
}

func (e *env) memoryGateway(ctx context.Context, o Options) (*memGateway, error) {
	if !o.Transport {
		gw, err := e.node(ctx, timers(mesh.Config{Name: "gw", Role: kernel.RoleGateway, Listen: "127.0.0.1:0"}, o.Heartbeat))
		if err != nil {
			return nil, err
		}
		churn := func() string {
			st := gw.Stats()
			return fmt.Sprintf("; %d connections refused, %d children lost to heartbeat timeouts", st.ConnsRefused.Load(), st.HeartbeatTimeouts.Load())
		}
		return &memGateway{addr: gw.Addr, linked: func() int { return len(gw.Children()) }, close: func() { gw.Close() }, churn: churn}, nil
	}
	id, err := e.identity("gw", kernel.RoleGateway)
	if err != nil {
		return nil, err
	}
	nw, err := quicnet.New(quicnet.Config{Identity: id, Revoked: e.auth.CA.IsRevoked, ClassicalKeyExchange: e.classical})
	if err != nil {
		return nil, err
	}
	l, err := nw.Listen("127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	var n atomic.Int64
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept(ctx)
			if err != nil {
				return
			}
			n.Add(1)
			wg.Add(1)
			go func() { // as a minimal server would: accept the peer's streams
				defer wg.Done()
				serveStreams(ctx, c)
			}()
		}
	}()
	return &memGateway{addr: l.Addr, linked: func() int { return int(n.Load()) }, churn: func() string { return "" }, close: func() {
		cancel()
		l.Close()
		wg.Wait()
	}}, nil
}

// serveStreams accepts and drops c's streams until c ends.
func serveStreams(ctx context.Context, c link.Conn) {
	defer c.Close()
	for {
		s, err := c.AcceptStream(ctx)
		if err != nil {
			return
		}
		s.Abort()
	}
}

// dialChildren links n bare quicnet connections to addr with the
// identities saved under dir.
func dialChildren(ctx context.Context, dir, addr string, n int, classical bool) (func(), error) {
	var conns []link.Conn
	stop := func() {
		for _, c := range conns {
			c.Close()
		}
	}
	for i := range n {
		id, err := identity.LoadNode(filepath.Join(dir, fmt.Sprintf("leaf-%d", i)))
		if err != nil {
			stop()
			return nil, err
		}
		nw, err := quicnet.New(quicnet.Config{Identity: id, ClassicalKeyExchange: classical})
		if err != nil {
			stop()
			return nil, err
		}
		dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		c, err := nw.Dial(dctx, addr, "gw")
		cancel()
		if err != nil {
			stop()
			return nil, fmt.Errorf("child %s did not connect: %w", id.Name, err)
		}
		conns = append(conns, c)
	}
	return stop, nil
}
