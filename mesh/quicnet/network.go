package quicnet

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"slices"
	"sync/atomic"
	"time"

	"github.com/quic-go/quic-go"

	"github.com/canopy-fleet/canopy/kernel"
	"github.com/canopy-fleet/canopy/mesh/identity"
	"github.com/canopy-fleet/canopy/mesh/link"
)

// Network is link.Network over QUIC. Safe for concurrent use.
type Network struct {
	cfg   Config
	joins chan struct{}
	id    atomic.Pointer[identity.Node]
	// Refusal log lines, each kind at most once per warnEvery.
	refusedPeer, refusedServer, refusedJoin warnLimiter
}

// New checks cfg and returns a network.
func New(cfg Config) (*Network, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	n := &Network{cfg: cfg, joins: make(chan struct{}, cfg.MaxConcurrentJoins)}
	n.id.Store(cfg.Identity)
	return n, nil
}

// SetIdentity switches to a renewed identity: new handshakes present its
// certificate; established connections keep theirs.
func (n *Network) SetIdentity(id *identity.Node) { n.id.Store(id) }

// leafCert is the certificate without the CA: the peer has the CA
// already, and not sending it saves parsing and keeping a copy per
// connection.
func (n *Network) leafCert() *tls.Certificate {
	c := n.id.Load().TLSCertificate()
	c.Certificate = c.Certificate[:1]
	return &c
}

func (n *Network) cert() *tls.Certificate {
	c := n.id.Load().TLSCertificate()
	return &c
}

func (n *Network) verifier() *identity.Verifier {
	return &identity.Verifier{CA: n.id.Load().CA, Revoked: n.cfg.Revoked, Now: n.cfg.Now}
}

// keepAlive is the longest a connection goes without receiving before it
// sends a keep-alive PING: quic-go's period, at most half the idle timeout.
func (n *Network) keepAlive() time.Duration {
	return min(n.cfg.KeepAlivePeriod, n.cfg.MaxIdleTimeout/2)
}

func (n *Network) quicConfig() *quic.Config {
	return &quic.Config{
		HandshakeIdleTimeout:  n.cfg.HandshakeTimeout,
		MaxIdleTimeout:        n.cfg.MaxIdleTimeout,
		KeepAlivePeriod:       n.cfg.KeepAlivePeriod,
		MaxIncomingStreams:    n.cfg.MaxIncomingStreams,
		MaxIncomingUniStreams: -1,
		Allow0RTT:             false,
	}
}

// curves is the key exchanges offered and accepted; nil is crypto/tls's
// default (see Config.ClassicalKeyExchange).
func (n *Network) curves() []tls.CurveID {
	if n.cfg.ClassicalKeyExchange {
		return []tls.CurveID{tls.X25519}
	}
	return nil
}

func (n *Network) serverTLS() *tls.Config {
	v := n.verifier()
	return &tls.Config{
		MinVersion:       tls.VersionTLS13,
		CurvePreferences: n.curves(),
		GetCertificate: func(hi *tls.ClientHelloInfo) (*tls.Certificate, error) {
			// A joining node needs the CA in the chain to check its pin;
			// members have the CA, so they get the leaf alone (less to
			// send and keep per connection).
			if slices.Contains(hi.SupportedProtos, ALPNJoin) {
				return n.cert(), nil
			}
			return n.leafCert(), nil
		},
		ClientAuth:             tls.RequestClientCert,
		NextProtos:             []string{ALPN, ALPNJoin},
		SessionTicketsDisabled: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			if cs.NegotiatedProtocol == ALPNJoin {
				if n.cfg.Join == nil {
					n.refusedJoin.warn(n.cfg.Logger, "refused join: this node does not serve joins")
					return fmt.Errorf("joins are not served here")
				}
				return nil
			}
			if _, err := v.VerifyCert(leafOf(cs), ""); err != nil {
				n.refusedPeer.warn(n.cfg.Logger, "refused peer", "err", err)
				return err
			}
			return nil
		},
	}
}

func (n *Network) clientTLS(want kernel.NodeName) *tls.Config {
	v := n.verifier()
	return &tls.Config{
		MinVersion:             tls.VersionTLS13,
		CurvePreferences:       n.curves(),
		GetClientCertificate:   func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return n.leafCert(), nil },
		NextProtos:             []string{ALPN},
		ServerName:             "canopy",
		InsecureSkipVerify:     true, // VerifyConnection checks the chain against the cluster CA
		SessionTicketsDisabled: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			if _, err := v.VerifyCert(leafOf(cs), want); err != nil {
				n.refusedServer.warn(n.cfg.Logger, "refused server", "err", err)
				return err
			}
			return nil
		},
	}
}

// leafOf is the peer's certificate as crypto/tls parsed it, nil when the
// peer sent none.
func leafOf(cs tls.ConnectionState) *x509.Certificate {
	if len(cs.PeerCertificates) == 0 {
		return nil
	}
	return cs.PeerCertificates[0]
}

func rawCerts(cs tls.ConnectionState) [][]byte {
	out := make([][]byte, len(cs.PeerCertificates))
	for i, c := range cs.PeerCertificates {
		out[i] = c.Raw
	}
	return out
}

// Listen listens on a UDP address such as "127.0.0.1:7443".
func (n *Network) Listen(addr string) (link.Listener, error) {
	ua, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return nil, fmt.Errorf("quicnet: listen %s: %w", addr, err)
	}
	udp, err := net.ListenUDP("udp", ua)
	if err != nil {
		return nil, fmt.Errorf("quicnet: listen %s: %w", addr, err)
	}
	tr := &quic.Transport{Conn: udp}
	ql, err := tr.Listen(n.serverTLS(), n.quicConfig())
	if err != nil {
		udp.Close()
		return nil, fmt.Errorf("quicnet: listen %s: %w", addr, err)
	}
	return &listener{n: n, ql: ql, tr: tr, udp: udp}, nil
}

// Dial connects to addr; want, when set, is the name the server's
// certificate must carry.
func (n *Network) Dial(ctx context.Context, addr string, want kernel.NodeName) (link.Conn, error) {
	qc, err := quic.DialAddr(ctx, addr, n.clientTLS(want), n.quicConfig())
	if err != nil {
		return nil, fmt.Errorf("quicnet: dial %s: %w", addr, err)
	}
	c, err := wrap(qc, n.keepAlive())
	if err != nil {
		qc.CloseWithError(1, "bad certificate")
		return nil, err
	}
	return c, nil
}

type listener struct {
	n   *Network
	ql  *quic.Listener
	tr  *quic.Transport
	udp *net.UDPConn
}

func (l *listener) Addr() string { return l.ql.Addr().String() }

// Close stops accepting, ends every connection accepted here and releases
// the UDP port before it returns, so the address can be bound again.
func (l *listener) Close() error {
	l.ql.Close()
	l.tr.Close()
	return l.udp.Close()
}

// Accept returns the next authenticated connection; join connections are
// served here and never returned.
func (l *listener) Accept(ctx context.Context) (link.Conn, error) {
	for {
		qc, err := l.ql.Accept(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, link.ErrClosed
		}
		if qc.ConnectionState().TLS.NegotiatedProtocol == ALPNJoin {
			select {
			case l.n.joins <- struct{}{}:
				go func() {
					defer func() { <-l.n.joins }()
					l.n.serveJoin(qc)
				}()
			default:
				l.n.refusedJoin.warn(l.n.cfg.Logger, "refused join: too many at once", "remote", qc.RemoteAddr())
				qc.CloseWithError(2, "too many joins")
			}
			continue
		}
		c, err := wrap(qc, l.n.keepAlive())
		if err != nil {
			l.n.refusedPeer.warn(l.n.cfg.Logger, "refused peer", "remote", qc.RemoteAddr(), "err", err)
			qc.CloseWithError(1, "bad certificate")
			continue
		}
		return c, nil
	}
}

func wrap(qc *quic.Conn, keepAlive time.Duration) (*conn, error) {
	certs := qc.ConnectionState().TLS.PeerCertificates
	if len(certs) == 0 {
		return nil, identity.ErrNoCertificate
	}
	name, role, err := identity.PeerOf(certs[0])
	if err != nil {
		return nil, err
	}
	return &conn{qc: qc, peer: link.Peer{Name: name, Role: role, Serial: certs[0].SerialNumber.Text(16)}, keepAlive: keepAlive}, nil
}

type conn struct {
	qc        *quic.Conn
	peer      link.Peer
	keepAlive time.Duration
}

var _ link.Liveness = (*conn)(nil)

// Received is the count of packets received from the peer (link.Liveness).
func (c *conn) Received() uint64 { return c.qc.ConnectionStats().PacketsReceived }

// KeepAlive is the longest the connection goes without receiving before
// it sends a keep-alive PING (link.Liveness), as quic-go v0.65 computes
// it: the configured period (at most half the idle timeout), or 1.5 probe
// timeouts when that is longer (a slow link), the probe timeout being the
// smoothed RTT, four mean deviations (at least 1 ms) and the peer's 25 ms
// acknowledgement delay.
func (c *conn) KeepAlive() time.Duration {
	if c.keepAlive <= 0 {
		return 0
	}
	st := c.qc.ConnectionStats()
	pto := st.SmoothedRTT + max(4*st.MeanDeviation, time.Millisecond) + 25*time.Millisecond
	return max(c.keepAlive, pto*3/2)
}

func (c *conn) Peer() link.Peer       { return c.peer }
func (c *conn) RTT() time.Duration    { return c.qc.ConnectionStats().SmoothedRTT }
func (c *conn) Done() <-chan struct{} { return c.qc.Context().Done() }
func (c *conn) Close() error          { return c.qc.CloseWithError(0, "closed") }

func (c *conn) OpenStream(ctx context.Context) (link.Stream, error) {
	s, err := c.qc.OpenStreamSync(ctx)
	if err != nil {
		return nil, err
	}
	return stream{s}, nil
}

func (c *conn) AcceptStream(ctx context.Context) (link.Stream, error) {
	s, err := c.qc.AcceptStream(ctx)
	if err != nil {
		return nil, err
	}
	return stream{s}, nil
}

type stream struct{ *quic.Stream }

// Read reads from the stream; a connection the peer closed because it
// refused this node's certificate says so (link.ErrCertificateRefused).
func (s stream) Read(p []byte) (int, error) {
	n, err := s.Stream.Read(p)
	return n, certRefusal(err)
}

// Write writes to the stream, with Read's errors.
func (s stream) Write(p []byte) (int, error) {
	n, err := s.Stream.Write(p)
	return n, certRefusal(err)
}

// certRefusal wraps link.ErrCertificateRefused into err when it is the
// peer's TLS alert against this node's certificate. In TLS 1.3 the client
// finishes its handshake before the server checks the client's
// certificate, so the server's refusal arrives on the first stream, not
// at Dial.
func certRefusal(err error) error {
	var te *quic.TransportError
	if err == nil || !errors.As(err, &te) || !te.Remote || !te.ErrorCode.IsCryptoError() {
		return err
	}
	switch alert := uint8(te.ErrorCode - quic.TransportErrorCode(0x100)); alert {
	case 42, 43, 44, 45, 46, 48, 116: // bad, unsupported, revoked, expired or unknown certificate; unknown CA; certificate required
		return fmt.Errorf("%w: %w", link.ErrCertificateRefused, err)
	}
	return err
}

func (s stream) CloseWrite() error { return s.Stream.Close() }
func (s stream) Abort() {
	s.Stream.CancelRead(1)
	s.Stream.CancelWrite(1)
}
