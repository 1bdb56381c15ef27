package mesh

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

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

// joinMsg is a join a gateway relays: the device's token and CSR, the
// gateway's own current certificate, and the gateway's signature over the
// token and CSR with that certificate's key (relaySigned), which together
// prove to the root that a gateway relays it. The certificate alone would
// not: every handshake shows it.
type joinMsg struct {
	Token string
	CSR   []byte
	Via   []byte `cbor:",omitempty"`
	Sig   []byte `cbor:",omitempty"`
}

// relayDigest is what a relaying gateway signs: the token and the CSR,
// each length-prefixed, under a label of their own.
func relayDigest(token string, csr []byte) []byte {
	h := sha256.New()
	h.Write([]byte("canopy relayed join\x00"))
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(token)))
	h.Write(n[:])
	h.Write([]byte(token))
	h.Write(csr)
	return h.Sum(nil)
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
// and certificate renewals, with a. A relayed join is taken only from a
// node whose certificate (valid, not revoked, naming the sender) says it
// is a gateway and whose signature over the join checks with that
// certificate's key; any other is refused before its token is looked at.
func (n *Node) ServeIdentity(a *identity.Authority) {
	n.setClaimAuthority(a) // route claims are checked against a's CA
	n.Handle(kindJoin, func(_ context.Context, from kernel.NodeName, body []byte) ([]byte, error) {
		var m joinMsg
		if err := frame.Unmarshal(body, &m); err != nil {
			return nil, err
		}
		if err := relayerIsGateway(a, n.cfg.Clock.Now, from, m); err != nil {
			n.log.Warn("relayed join refused", "via", string(from), "err", err)
			return nil, err
		}
		cert, ca, err := a.Join(m.Token, m.CSR)
		if err != nil {
			n.log.Warn("relayed join refused", "via", string(from), "err", err)
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
		if err := sameKey(m.Cert, m.CSR); err != nil {
			n.log.Warn("renewal refused", "from", string(from), "err", err)
			return nil, err
		}
		cert, err := a.Renew(from, peer.Role, m.CSR)
		if err != nil {
			return nil, err
		}
		return frame.Marshal(certReply{Cert: cert})
	})
}

// sameKey checks that a renewal's CSR is for the key its certificate holds.
// The certificate alone proves nothing (every handshake shows it) and the
// sender's name is only as good as the hops that carried it (a gateway
// speaks for its subtree); the CSR's signature, checked when it is signed,
// proves the sender holds the CSR's key, so with this check only the
// holder of the certificate's key renews it.
func sameKey(certDER, csrDER []byte) error {
	c, err := identity.DecodeCert(certDER)
	if err != nil {
		return fmt.Errorf("renew: certificate: %w", err)
	}
	csr, err := x509.ParseCertificateRequest(csrDER)
	if err != nil {
		return fmt.Errorf("renew: csr: %w", err)
	}
	if !bytes.Equal(c.RawSubjectPublicKeyInfo, csr.RawSubjectPublicKeyInfo) {
		return errors.New("renew: the csr's key is not the certificate's: a renewal keeps the node's key")
	}
	return nil
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

// relayerIsGateway checks that the node from, which relays the join m,
// proved with its certificate (m.Via) that it is a gateway, and with its
// signature (m.Sig) that it holds that certificate's key.
func relayerIsGateway(a *identity.Authority, now func() time.Time, from kernel.NodeName, m joinMsg) error {
	if len(m.Via) == 0 {
		return fmt.Errorf("joins are relayed by gateways only, and %s showed no certificate", from)
	}
	v := identity.Verifier{CA: a.CA.Cert, Revoked: a.CA.IsRevoked, Now: now}
	peer, err := v.Verify([][]byte{m.Via}, from)
	if err != nil {
		return fmt.Errorf("joins are relayed by gateways only: %s: %w", from, err)
	}
	if peer.Role != kernel.RoleGateway {
		return fmt.Errorf("joins are relayed by gateways only, and %s is a %s", from, peer.Role)
	}
	c, err := identity.DecodeCert(m.Via)
	if err != nil {
		return fmt.Errorf("joins are relayed by gateways only: %s: %w", from, err)
	}
	if !identity.VerifyDigest(c.PublicKey, relayDigest(m.Token, m.CSR), m.Sig) {
		return fmt.Errorf("joins are relayed by gateways only, and %s's signature over the join does not check with its certificate", from)
	}
	return nil
}

// RelayJoin passes a join up to the root; a gateway uses it as its
// quicnet.Config.Join so devices can join through it. The node needs
// Config.Identity (a gateway's, kept current as it is renewed), which
// proves to the root that a gateway relays. A refusal comes back as the
// root's reason alone, one line.
func (n *Node) RelayJoin(ctx context.Context, token string, csr []byte) ([]byte, []byte, error) {
	n.mu.Lock()
	id := n.cfg.Identity
	n.mu.Unlock()
	if id == nil {
		return nil, nil, errors.New("relay join: this node has no identity to show the root (mesh.Config.Identity)")
	}
	sig, err := identity.SignDigest(id.Key, relayDigest(token, csr))
	if err != nil {
		return nil, nil, fmt.Errorf("relay join: sign: %w", err)
	}
	b, err := frame.Marshal(joinMsg{Token: token, CSR: csr, Via: id.Cert.Raw, Sig: sig})
	if err != nil {
		return nil, nil, err
	}
	resp, err := n.Request(ctx, "", kindJoin, b)
	var re *RemoteError
	if errors.As(err, &re) {
		return nil, nil, errors.New(re.Msg) // the root's reason, not the hop's framing
	}
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
// remains, sends the parent a placement proof made with the new
// certificate (the one held above would expire with the old one), and
// hands the new identity to Config.OnRenewed.
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
		n.mu.Lock()
		n.cfg.Identity = renewed // what RelayJoin shows the root
		n.refreshProofLocked()   // the proof held above names the old certificate
		n.mu.Unlock()
		if n.cfg.OnRenewed != nil {
			n.cfg.OnRenewed(renewed)
		}
	}
}
