package main

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/canopy-fleet/canopy/kernel"
	"github.com/canopy-fleet/canopy/mesh"
	"github.com/canopy-fleet/canopy/mesh/frame"
)

// Messages cmd/canopy's roles exchange over the mesh, beside the mesh's own.
const (
	// kindJoinRelay carries a join that a gateway received up to the
	// controller, which redeems the token in its persistent token store
	// (mesh.Node.RelayJoin goes to identity.Authority, whose tokens live
	// in memory only).
	kindJoinRelay = "canopy.join"
	// kindStatus is a node's periodic account of itself to the
	// controller: its parent, listen address and labels.
	kindStatus = "canopy.status"
)

// statusInterval is how often an agent reports its status.
const statusInterval = 5 * time.Second

type joinRelayMsg struct {
	Token string
	CSR   []byte
}

type joinRelayReply struct {
	Cert []byte
	CA   []byte
}

// nodeStatus is the body of kindStatus.
type nodeStatus struct {
	Parent  kernel.NodeName
	Addr    string            `cbor:",omitempty"`
	Labels  map[string]string `cbor:",omitempty"`
	Version string            `cbor:",omitempty"`
}

// relayJoin passes a join from a device up to the controller through n
// (a gateway's quicnet Join).
func relayJoin(ctx context.Context, n *mesh.Node, token string, csr []byte) ([]byte, []byte, error) {
	b, err := frame.Marshal(joinRelayMsg{Token: token, CSR: csr})
	if err != nil {
		return nil, nil, err
	}
	resp, err := n.Request(ctx, "", kindJoinRelay, b)
	var re *mesh.RemoteError
	if errors.As(err, &re) {
		return nil, nil, errors.New(re.Msg) // the controller's reason, not the hop's framing
	}
	if err != nil {
		return nil, nil, err
	}
	var r joinRelayReply
	if err := frame.Unmarshal(resp, &r); err != nil {
		return nil, nil, err
	}
	return r.Cert, r.CA, nil
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
