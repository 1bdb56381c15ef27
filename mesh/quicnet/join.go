package quicnet

import (
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/quic-go/quic-go"

	"github.com/canopy-fleet/canopy/kernel"
	"github.com/canopy-fleet/canopy/mesh/frame"
	"github.com/canopy-fleet/canopy/mesh/identity"
)

// Frame types of the join stream.
const (
	frameJoinRequest  frame.Type = 1
	frameJoinResponse frame.Type = 2
)

const maxJoinFrame = 64 << 10

// JoinRequest is what a new node brings to its first contact.
type JoinRequest struct {
	Addr   string          // the parent to join through
	CAHash string          // "sha256:HEX" of the CA's SubjectPublicKeyInfo
	Token  string          // "ID.SECRET"
	Name   kernel.NodeName // this node's name
	Key    crypto.Signer   // this node's key; only the CSR leaves the device
	Logger *slog.Logger
}

// Join pins the CA by hash on first contact, proves the token, sends a CSR
// and returns the node's identity with the signed certificate.
func Join(ctx context.Context, r JoinRequest) (*identity.Node, error) {
	if err := identity.ValidateCAHash(r.CAHash); err != nil {
		return nil, err
	}
	csr, err := identity.NewCSR(r.Key, r.Name)
	if err != nil {
		return nil, err
	}
	var pinned *x509.Certificate
	tc := &tls.Config{
		MinVersion:         tls.VersionTLS13,
		NextProtos:         []string{ALPNJoin},
		ServerName:         "canopy",
		InsecureSkipVerify: true, // VerifyConnection checks the pinned CA
		VerifyConnection: func(cs tls.ConnectionState) error {
			ca, err := identity.VerifyPinned(rawCerts(cs), r.CAHash, time.Now())
			pinned = ca
			return err
		},
	}
	qc, err := quic.DialAddr(ctx, r.Addr, tc, &quic.Config{HandshakeIdleTimeout: 3 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("join %s: %w", r.Addr, err)
	}
	defer qc.CloseWithError(0, "")
	s, err := qc.OpenStreamSync(ctx)
	if err != nil {
		return nil, fmt.Errorf("join %s: %w", r.Addr, err)
	}
	if dl, ok := ctx.Deadline(); ok {
		s.SetDeadline(dl)
	}
	if err := frame.WriteMsg(s, frameJoinRequest, joinRequest{Token: r.Token, CSR: csr}); err != nil {
		return nil, fmt.Errorf("join %s: %w", r.Addr, err)
	}
	s.Close()
	typ, p, err := frame.Read(s, maxJoinFrame)
	if err != nil {
		return nil, fmt.Errorf("join %s: %w", r.Addr, err)
	}
	var resp joinResponse
	if typ != frameJoinResponse {
		return nil, fmt.Errorf("join %s: unexpected frame type %d", r.Addr, typ)
	}
	if err := frame.Unmarshal(p, &resp); err != nil {
		return nil, fmt.Errorf("join %s: response: %w", r.Addr, err)
	}
	if resp.Error != "" {
		return nil, fmt.Errorf("join %s: refused: %s", r.Addr, resp.Error)
	}
	n, err := identity.NewNode(r.Key, resp.Cert, resp.CA)
	if err != nil {
		return nil, fmt.Errorf("join %s: %w", r.Addr, err)
	}
	if !identity.SameCert(n.CA, pinned) {
		return nil, fmt.Errorf("join %s: returned CA is not the pinned one: %w", r.Addr, identity.ErrPinMismatch)
	}
	return n, nil
}

// serveJoin answers one join connection.
func (n *Network) serveJoin(qc *quic.Conn) {
	defer qc.CloseWithError(0, "")
	log := n.cfg.Logger.With("remote", qc.RemoteAddr().String())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := qc.AcceptStream(ctx)
	if err != nil {
		log.Warn("join: no request", "err", err)
		return
	}
	s.SetDeadline(time.Now().Add(5 * time.Second))
	reply := func(r joinResponse) {
		frame.WriteMsg(s, frameJoinResponse, r)
		s.Close()
		// Wait for the peer to read the reply before the connection closes.
		select {
		case <-qc.Context().Done():
		case <-time.After(time.Second):
		}
	}
	typ, p, err := frame.Read(s, maxJoinFrame)
	var req joinRequest
	if err == nil && typ != frameJoinRequest {
		err = fmt.Errorf("unexpected frame type %d", typ)
	}
	if err == nil {
		err = frame.Unmarshal(p, &req)
	}
	if err != nil {
		log.Warn("join: bad request", "err", err)
		reply(joinResponse{Error: "bad request: " + err.Error()})
		return
	}
	cert, ca, err := n.cfg.Join(ctx, req.Token, req.CSR)
	if err != nil {
		log.Warn("join refused", "err", err)
		msg := err.Error()
		if errors.Is(err, identity.ErrTokenUnknown) {
			msg = "token unknown"
		}
		reply(joinResponse{Error: msg})
		return
	}
	if c, err := identity.DecodeCert(cert); err == nil {
		log.Info("joined", "node", c.Subject.CommonName, "role", c.Subject.OrganizationalUnit)
	}
	reply(joinResponse{Cert: cert, CA: ca})
}

// LoadOrJoin returns the identity saved in dir, or joins with r (making the
// node's key in dir first; only the CSR leaves the device) and saves the
// result: the first start of `canopy agent --join`.
func LoadOrJoin(ctx context.Context, dir string, r JoinRequest) (*identity.Node, error) {
	if n, err := identity.LoadNode(dir); err == nil {
		return n, nil
	}
	key, err := identity.LoadOrCreateKey(identity.NodeKeyPath(dir))
	if err != nil {
		return nil, err
	}
	r.Key = key
	n, err := Join(ctx, r)
	if err != nil {
		return nil, err
	}
	return n, n.Save(dir)
}
