package mesh

import (
	"context"
	"fmt"

	"github.com/canopy-fleet/canopy/kernel"
	"github.com/canopy-fleet/canopy/mesh/frame"
	"github.com/canopy-fleet/canopy/mesh/identity"
)

const (
	kindJoin    = "mesh.join"
	kindRenew   = "mesh.renew"
	kindRevoked = "mesh.revoked"
)

type revokedList struct {
	Serials []string
}

type joinMsg struct {
	Token string
	CSR   []byte
}

type certReply struct {
	Cert []byte
	CA   []byte `cbor:",omitempty"`
}

type renewMsg struct {
	Cert []byte // the current certificate, proving name and role
	CSR  []byte
}

// ServeIdentity makes this node (the root) answer joins relayed by gateways
// and certificate renewals, with a.
func (n *Node) ServeIdentity(a *identity.Authority) {
	n.Handle(kindJoin, func(_ context.Context, _ kernel.NodeName, body []byte) ([]byte, error) {
		var m joinMsg
		if err := frame.Unmarshal(body, &m); err != nil {
			return nil, err
		}
		cert, ca, err := a.Join(m.Token, m.CSR)
		if err != nil {
			return nil, err
		}
		return frame.Marshal(certReply{Cert: cert, CA: ca})
	})
	n.Handle(kindRevoked, func(context.Context, kernel.NodeName, []byte) ([]byte, error) {
		return frame.Marshal(revokedList{Serials: a.CA.List()})
	})
	n.Handle(kindRenew, func(_ context.Context, from kernel.NodeName, body []byte) ([]byte, error) {
		var m renewMsg
		if err := frame.Unmarshal(body, &m); err != nil {
			return nil, err
		}
		v := identity.Verifier{CA: a.CA.Cert, Revoked: a.CA.IsRevoked, Now: n.cfg.Clock.Now}
		peer, err := v.Verify([][]byte{m.Cert}, from)
		if err != nil {
			return nil, fmt.Errorf("renew: %w", err)
		}
		cert, err := a.Renew(from, peer.Role, m.CSR)
		if err != nil {
			return nil, err
		}
		return frame.Marshal(certReply{Cert: cert})
	})
}

// revocationLoop keeps Config.Revocations in step with the root's list and
// disconnects children whose certificates were revoked.
func (n *Node) revocationLoop() {
	for {
		if err := n.WaitParent(n.ctx); err != nil {
			return
		}
		ctx, cancel := context.WithTimeout(n.ctx, n.cfg.RequestTimeout)
		b, err := n.Request(ctx, "", kindRevoked, nil)
		cancel()
		var list revokedList
		if err == nil {
			err = frame.Unmarshal(b, &list)
		}
		if err != nil {
			n.log.Warn("revocation list not refreshed", "err", err)
		} else if added := n.cfg.Revocations.Replace(list.Serials); len(added) > 0 {
			n.dropRevoked(added)
		}
		if !n.sleep(n.ctx, n.cfg.RenewCheck) {
			return
		}
	}
}

func (n *Node) dropRevoked(serials []string) {
	bad := make(map[string]bool, len(serials))
	for _, s := range serials {
		bad[s] = true
	}
	n.mu.Lock()
	var doomed []*peerLink
	for _, l := range n.children {
		if l.peer.Serial != "" && bad[l.peer.Serial] {
			doomed = append(doomed, l)
		}
	}
	n.mu.Unlock()
	for _, l := range doomed {
		n.dropChild(l, "certificate revoked")
	}
}

// RelayJoin passes a join up to the root; a gateway uses it as its
// quicnet.Config.Join so devices can join through it.
func (n *Node) RelayJoin(ctx context.Context, token string, csr []byte) ([]byte, []byte, error) {
	b, err := frame.Marshal(joinMsg{Token: token, CSR: csr})
	if err != nil {
		return nil, nil, err
	}
	resp, err := n.Request(ctx, "", kindJoin, b)
	if err != nil {
		return nil, nil, err
	}
	var r certReply
	if err := frame.Unmarshal(resp, &r); err != nil {
		return nil, nil, err
	}
	return r.Cert, r.CA, nil
}

// Renew asks the root for a new certificate for id's key (same name and
// role) and returns the renewed identity. The key never leaves the node.
func (n *Node) Renew(ctx context.Context, id *identity.Node) (*identity.Node, error) {
	csr, err := identity.NewCSR(id.Key, id.Name)
	if err != nil {
		return nil, err
	}
	b, err := frame.Marshal(renewMsg{Cert: id.Cert.Raw, CSR: csr})
	if err != nil {
		return nil, err
	}
	resp, err := n.Request(ctx, "", kindRenew, b)
	if err != nil {
		return nil, fmt.Errorf("renew: %w", err)
	}
	var r certReply
	if err := frame.Unmarshal(resp, &r); err != nil {
		return nil, err
	}
	return identity.NewNode(id.Key, r.Cert, id.CA.Raw)
}

// renewLoop renews Config.Identity when less than a third of its lifetime
// remains, and hands the new identity to Config.OnRenewed.
func (n *Node) renewLoop() {
	id := n.cfg.Identity
	for n.sleep(n.ctx, n.cfg.RenewCheck) {
		if !id.NeedsRenewal(n.cfg.Clock.Now()) {
			continue
		}
		ctx, cancel := context.WithTimeout(n.ctx, n.cfg.RequestTimeout)
		renewed, err := n.Renew(ctx, id)
		cancel()
		if err != nil {
			n.log.Warn("certificate renewal failed; will retry", "expires", id.Cert.NotAfter, "err", err)
			continue
		}
		n.log.Info("certificate renewed", "expires", renewed.Cert.NotAfter)
		id = renewed
		if n.cfg.OnRenewed != nil {
			n.cfg.OnRenewed(renewed)
		}
	}
}
