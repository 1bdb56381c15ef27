package meshbench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"time"

	"github.com/canopy-fleet/canopy/kernel"
	"github.com/canopy-fleet/canopy/mesh"
)

// RequestLatency measures request/response over an established link (a
// leaf asking its parent, 64-byte payloads) and the same exchange on raw
// quic-go streams, interleaved in rounds so both see the same machine load.
func RequestLatency(ctx context.Context, o Options) ([]Result, error) {
	e, err := newEnv()
	if err != nil {
		return nil, err
	}
	defer e.close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	root, err := e.node(ctx, mesh.Config{Name: "ctl", Role: kernel.RoleController, Listen: "127.0.0.1:0"})
	if err != nil {
		return nil, err
	}
	defer root.Close()
	root.Handle("echo", func(_ context.Context, _ kernel.NodeName, b []byte) ([]byte, error) { return b, nil })
	leaf, err := e.node(ctx, mesh.Config{Name: "leaf", Role: kernel.RoleLeaf, Parents: []mesh.Parent{{Addr: root.Addr()}}})
	if err != nil {
		return nil, err
	}
	defer leaf.Close()
	if err := leaf.WaitParent(ctx); err != nil {
		return nil, err
	}
	id, err := e.identity("raw", kernel.RoleController)
	if err != nil {
		return nil, err
	}
	raw, err := startRaw(id, "")
	if err != nil {
		return nil, err
	}
	defer raw.close()
	rc, err := dialRaw(ctx, raw.ln.Addr().String())
	if err != nil {
		return nil, err
	}
	defer rc.CloseWithError(0, "")

	payload := bytes.Repeat([]byte{'x'}, 64)
	rounds, per := 20, 100
	if o.Quick {
		rounds, per = 2, 50
	}
	var meshD, rawD []time.Duration
	req := append([]byte{'e'}, payload...)
	for r := 0; r < rounds+1; r++ {
		for i := 0; i < per; i++ {
			t0 := time.Now()
			b, err := leaf.Request(ctx, "", "echo", payload)
			d := time.Since(t0)
			if err != nil || len(b) != len(payload) {
				return nil, fmt.Errorf("mesh request: %v", err)
			}
			if r > 0 { // round 0 warms up
				meshD = append(meshD, d)
			}
			t0 = time.Now()
			n, err := rawCall(ctx, rc, req, io.Discard)
			d = time.Since(t0)
			if err != nil || n != int64(len(payload)) {
				return nil, fmt.Errorf("raw request: %v", err)
			}
			if r > 0 {
				rawD = append(rawD, d)
			}
		}
	}
	m50, m99 := percentile(meshD, 0.5), percentile(meshD, 0.99)
	r50, r99 := percentile(rawD, 0.5), percentile(rawD, 0.99)
	note := fmt.Sprintf("%d requests each, 64 B, loopback; speed ratio raw/mesh = %.2f", len(meshD), us(r50)/us(m50))
	return []Result{
		{Name: "request p50", Value: us(m50), Unit: "µs", Baseline: us(r50), Target: "<= 1.25x (raw speed >= 0.8x)", Note: note},
		{Name: "request p99", Value: us(m99), Unit: "µs", Baseline: us(r99), Target: "<= 1.25x (raw speed >= 0.8x)", Note: fmt.Sprintf("speed ratio raw/mesh = %.2f", us(r99)/us(m99))},
	}, nil
}
