package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/canopy-fleet/canopy/kernel"
	"github.com/canopy-fleet/canopy/mesh"
	"github.com/canopy-fleet/canopy/mesh/frame"
)

// Messages cmd/canopy's roles exchange over the mesh, beside the mesh's own.
const (
	// kindStatus is a node's periodic account of itself to the
	// controller: its parent, listen address and labels.
	kindStatus = "canopy.status"
)

// statusInterval is how often an agent reports its status.
const statusInterval = 5 * time.Second

// nodeStatus is the body of kindStatus.
type nodeStatus struct {
	Parent  kernel.NodeName
	Addr    string            `cbor:",omitempty"`
	Labels  map[string]string `cbor:",omitempty"`
	Version string            `cbor:",omitempty"`
}

// Bounds of a status a node reports.
const (
	maxLabels     = 64
	maxLabelKey   = 63
	maxLabelValue = 253
)

// decodeStatus parses and checks a kindStatus body from the network.
func decodeStatus(b []byte) (nodeStatus, error) {
	var st nodeStatus
	if err := frame.Unmarshal(b, &st); err != nil {
		return st, fmt.Errorf("status: %w", err)
	}
	if st.Parent != "" && !kernel.ValidName(string(st.Parent)) {
		return st, fmt.Errorf("status: parent %q is not a node name", st.Parent)
	}
	if len(st.Addr) > 300 || len(st.Version) > 100 {
		return st, errors.New("status: address or version too long")
	}
	if len(st.Labels) > maxLabels {
		return st, fmt.Errorf("status: %d labels, at most %d", len(st.Labels), maxLabels)
	}
	for k, v := range st.Labels {
		if k == "" || len(k) > maxLabelKey || len(v) > maxLabelValue {
			return st, fmt.Errorf("status: label %.70q: key 1-%d bytes, value at most %d", k, maxLabelKey, maxLabelValue)
		}
	}
	return st, nil
}

// reportStatus sends st (with the current parent) to the controller every
// statusInterval and whenever the parent link comes up, until ctx ends.
func reportStatus(ctx context.Context, n *mesh.Node, st nodeStatus, up <-chan struct{}, log *slog.Logger) {
	t := time.NewTicker(statusInterval)
	defer t.Stop()
	for {
		if err := n.WaitParent(ctx); err != nil {
			return
		}
		st.Parent = n.Parent()
		if b, err := frame.Marshal(st); err == nil {
			sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			if err := n.Send(sctx, "", kindStatus, b); err != nil {
				log.Debug("status not sent", "err", err)
			}
			cancel()
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-up:
		}
	}
}
