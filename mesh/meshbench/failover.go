package meshbench

import (
	"context"
	"fmt"
	"time"

	"github.com/canopy-fleet/canopy/kernel"
	"github.com/canopy-fleet/canopy/mesh"
	"github.com/canopy-fleet/canopy/mesh/internal/udpproxy"
)

// Failover measures how long a leaf takes, with default heartbeat timers,
// to be linked to its alternate parent after its parent goes silent (every
// packet dropped: a crash or a pulled cable) and after its parent shuts
// down cleanly.
func Failover(ctx context.Context, o Options) ([]Result, error) {
	reps := 5
	if o.Quick {
		reps = 1
	}
	var silent, clean []time.Duration
	for i := 0; i < reps; i++ {
		d, err := failoverOnce(ctx, true)
		if err != nil {
			return nil, err
		}
		silent = append(silent, d)
		d, err = failoverOnce(ctx, false)
		if err != nil {
			return nil, err
		}
		clean = append(clean, d)
	}
	return []Result{
		{Name: "failover (parent silent)", Value: ms(percentile(silent, 0.5)), Unit: "ms", Target: "<= 2000 ms",
			Note: fmt.Sprintf("median of %d, max %.0f ms; default timers: heartbeat 500ms, lost after 2s", len(silent), ms(percentile(silent, 1)))},
		{Name: "failover (parent closed)", Value: ms(percentile(clean, 0.5)), Unit: "ms", Target: "<= 2000 ms",
			Note: fmt.Sprintf("median of %d", len(clean))},
	}, nil
}

func failoverOnce(ctx context.Context, silent bool) (time.Duration, error) {
	e, err := newEnv()
	if err != nil {
		return 0, err
	}
	defer e.close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var nodes []*mesh.Node
	defer func() {
		for _, n := range nodes {
			n.Close()
		}
	}()
	start := func(cfg mesh.Config) (*mesh.Node, error) {
		n, err := e.node(ctx, cfg)
		if err == nil {
			nodes = append(nodes, n)
		}
		return n, err
	}
	root, err := start(mesh.Config{Name: "ctl", Role: kernel.RoleController, Listen: "127.0.0.1:0"})
	if err != nil {
		return 0, err
	}
	gw1, err := start(mesh.Config{Name: "gw-1", Role: kernel.RoleGateway, Listen: "127.0.0.1:0", Parents: []mesh.Parent{{Addr: root.Addr()}}})
	if err != nil {
		return 0, err
	}
	gw2, err := start(mesh.Config{Name: "gw-2", Role: kernel.RoleGateway, Listen: "127.0.0.1:0", Parents: []mesh.Parent{{Addr: root.Addr()}}})
	if err != nil {
		return 0, err
	}
	proxy, err := udpproxy.New(gw1.Addr())
	if err != nil {
		return 0, err
	}
	defer proxy.Close()
	up := make(chan kernel.NodeName, 4)
	_, err = start(mesh.Config{Name: "leaf", Role: kernel.RoleLeaf,
		Parents: []mesh.Parent{{Addr: proxy.Addr(), Name: "gw-1"}, {Addr: gw2.Addr(), Name: "gw-2"}},
		OnEvent: func(ev mesh.Event) {
			if ev.Kind == mesh.EventParentUp {
				up <- ev.Peer
			}
		}})
	if err != nil {
		return 0, err
	}
	if p := <-up; p != "gw-1" {
		return 0, fmt.Errorf("failover: first parent %s, want gw-1", p)
	}
	time.Sleep(700 * time.Millisecond) // let heartbeats settle into their rhythm
	t0 := time.Now()
	if silent {
		proxy.Drop(true)
	} else {
		gw1.Close()
	}
	select {
	case p := <-up:
		if p != "gw-2" {
			return 0, fmt.Errorf("failover: went to %s, want gw-2", p)
		}
	case <-time.After(15 * time.Second):
		return 0, fmt.Errorf("failover: no new parent after 15s")
	}
	return time.Since(t0), nil
}
