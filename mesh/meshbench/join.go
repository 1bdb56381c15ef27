package meshbench

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/canopy-fleet/canopy/kernel"
	"github.com/canopy-fleet/canopy/mesh"
	"github.com/canopy-fleet/canopy/mesh/identity"
	"github.com/canopy-fleet/canopy/mesh/quicnet"
)

// Join measures token to first heartbeat: a device with a fresh key joins
// the controller (pin the CA, prove the token, CSR, certificate), links
// with its new certificate and beats; the clock stops when the controller
// sees the first heartbeat.
func Join(ctx context.Context, o Options) ([]Result, error) {
	e, err := newEnv()
	if err != nil {
		return nil, err
	}
	defer e.close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ready := make(chan kernel.NodeName, 16)
	root, err := e.node(ctx, mesh.Config{Name: "ctl", Role: kernel.RoleController, Listen: "127.0.0.1:0", OnEvent: func(ev mesh.Event) {
		if ev.Kind == mesh.EventChildReady {
			ready <- ev.Peer
		}
	}})
	if err != nil {
		return nil, err
	}
	defer root.Close()
	reps := 10
	if o.Quick {
		reps = 3
	}
	var ds []time.Duration
	for i := 0; i < reps; i++ {
		name := kernel.NodeName(fmt.Sprintf("dev-%d", i))
		key, err := identity.LoadOrCreateKey(filepath.Join(e.dir, string(name), "node.key"))
		if err != nil {
			return nil, err
		}
		tok, err := e.auth.Tokens.Create(kernel.RoleLeaf, time.Minute)
		if err != nil {
			return nil, err
		}
		t0 := time.Now()
		id, err := quicnet.Join(ctx, quicnet.JoinRequest{Addr: root.Addr(), CAHash: e.auth.CA.Hash(), Token: tok, Name: name, Key: key})
		if err != nil {
			return nil, err
		}
		nw, err := quicnet.New(quicnet.Config{Identity: id})
		if err != nil {
			return nil, err
		}
		dev, err := mesh.New(mesh.Config{Name: name, Role: kernel.RoleLeaf, Network: nw, Identity: id, Parents: []mesh.Parent{{Addr: root.Addr(), Name: "ctl"}}})
		if err != nil {
			return nil, err
		}
		if err := dev.Start(ctx); err != nil {
			return nil, err
		}
		select {
		case <-ready:
		case <-time.After(10 * time.Second):
			dev.Close()
			return nil, fmt.Errorf("join: no heartbeat from %s", name)
		}
		ds = append(ds, time.Since(t0))
		dev.Close()
	}
	return []Result{{Name: "join (token to first heartbeat)", Value: ms(percentile(ds, 0.5)), Unit: "ms", Target: "<= 100 ms",
		Note: fmt.Sprintf("median of %d; max %.1f ms", len(ds), ms(percentile(ds, 1)))}}, nil
}
