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

// pair is an established mesh link and an established raw quic-go
// connection, each able to run one 64-byte request/response.
type pair struct {
	mesh, raw func() error
	close     func()
}

func newPair(ctx context.Context) (*pair, error) {
	e, err := newEnv()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	var closers []func()
	p := &pair{close: func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
		cancel()
		e.close()
	}}
	fail := func(err error) (*pair, error) {
		p.close()
		return nil, err
	}
	root, err := e.node(ctx, mesh.Config{Name: "ctl", Role: kernel.RoleController, Listen: "127.0.0.1:0"})
	if err != nil {
		return fail(err)
	}
	closers = append(closers, func() { root.Close() })
	root.Handle("echo", func(_ context.Context, _ kernel.NodeName, b []byte) ([]byte, error) { return b, nil })
	leaf, err := e.node(ctx, mesh.Config{Name: "leaf", Role: kernel.RoleLeaf, Parents: []mesh.Parent{{Addr: root.Addr()}}})
	if err != nil {
		return fail(err)
	}
	closers = append(closers, func() { leaf.Close() })
	if err := leaf.WaitParent(ctx); err != nil {
		return fail(err)
	}
	id, err := e.identity("raw", kernel.RoleController)
	if err != nil {
		return fail(err)
	}
	raw, err := startRaw(id, "")
	if err != nil {
		return fail(err)
	}
	closers = append(closers, raw.close)
	rc, err := dialRaw(ctx, raw.ln.Addr().String())
	if err != nil {
		return fail(err)
	}
	closers = append(closers, func() { rc.CloseWithError(0, "") })
	payload := bytes.Repeat([]byte{'x'}, 64)
	req := append([]byte{'e'}, payload...)
	p.mesh = func() error {
		b, err := leaf.Request(ctx, "", "echo", payload)
		if err == nil && len(b) != len(payload) {
			err = fmt.Errorf("mesh echo returned %d bytes", len(b))
		}
		return err
	}
	p.raw = func() error {
		n, err := rawCall(ctx, rc, req, io.Discard)
		if err == nil && n != int64(len(payload)) {
			err = fmt.Errorf("raw echo returned %d bytes", n)
		}
		return err
	}
	return p, nil
}

// RequestLatency measures request/response over an established link (a
// leaf asking its parent, 64-byte payloads) and the same exchange on raw
// quic-go streams, interleaved request by request so both see the same
// machine load.
func RequestLatency(ctx context.Context, o Options) ([]Result, error) {
	p, err := newPair(ctx)
	if err != nil {
		return nil, err
	}
	defer p.close()
	n := 5000
	if o.Quick {
		n = 200
	}
	var meshD, rawD []time.Duration
	for i := 0; i < n+n/10; i++ {
		t0 := time.Now()
		if err := p.mesh(); err != nil {
			return nil, fmt.Errorf("mesh request: %w", err)
		}
		d := time.Since(t0)
		t1 := time.Now()
		if err := p.raw(); err != nil {
			return nil, fmt.Errorf("raw request: %w", err)
		}
		if i >= n/10 { // the first tenth warms up
			meshD, rawD = append(meshD, d), append(rawD, time.Since(t1))
		}
	}
	m50, m99 := percentile(meshD, 0.5), percentile(meshD, 0.99)
	r50, r99 := percentile(rawD, 0.5), percentile(rawD, 0.99)
	return []Result{
		{Name: "request p50", Value: us(m50), Unit: "µs", Baseline: us(r50), Target: "<= 1.25x (raw speed >= 0.8x)",
			Note: fmt.Sprintf("%d requests each, 64 B, loopback; speed vs raw = %.2fx", len(meshD), us(r50)/us(m50))},
		{Name: "request p99", Value: us(m99), Unit: "µs", Baseline: us(r99), Target: "<= 1.25x (raw speed >= 0.8x)",
			Note: fmt.Sprintf("speed vs raw = %.2fx", us(r99)/us(m99))},
	}, nil
}
