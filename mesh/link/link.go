// Package link is the contract between the mesh and the networks that carry
// it: an authenticated connection to one named peer that carries many
// independent byte streams. quicnet implements it over QUIC with mutual TLS;
// memnet implements it in memory for tests and simulations at scale.
package link

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/canopy-fleet/canopy/kernel"
)

// ErrClosed is returned by operations on a closed connection or listener.
var ErrClosed = errors.New("link closed")

// ErrCertificateRefused is wrapped in the errors of a connection whose
// peer refused this node's certificate: revoked (the node was deleted),
// expired, or from another cluster's CA. Networks without certificates
// never return it.
var ErrCertificateRefused = errors.New("the peer refused this node's certificate")

// Peer is who is at the other end of a connection, as its certificate (or
// the in-memory fabric) says.
type Peer struct {
	Name kernel.NodeName
	Role kernel.Role
	// Serial is the certificate's serial number in hex ("" on networks
	// without certificates, such as memnet).
	Serial string
}

// Stream is one bidirectional byte stream inside a connection.
type Stream interface {
	io.Reader
	io.Writer
	// CloseWrite ends the sending side; the peer reads io.EOF after the data.
	CloseWrite() error
	// Abort abandons both directions; pending reads and writes fail.
	Abort()
	// SetDeadline bounds reads and writes; zero means none.
	SetDeadline(t time.Time) error
}

// Conn is an authenticated connection to one peer. All methods are safe
// for concurrent use.
type Conn interface {
	// Peer is the authenticated identity of the other end.
	Peer() Peer
	// OpenStream opens a stream, blocking while the peer's stream limit is
	// reached (back-pressure) until ctx is done.
	OpenStream(ctx context.Context) (Stream, error)
	// AcceptStream returns the next stream the peer opened.
	AcceptStream(ctx context.Context) (Stream, error)
	// RTT is the smoothed round-trip time the transport measures, or 0.
	RTT() time.Duration
	// Close ends the connection and every stream in it.
	Close() error
	// Done is closed when the connection has ended for any reason.
	Done() <-chan struct{}
}

// Liveness is implemented by connections whose transport keeps an idle
// link alive on its own (QUIC keep-alives: a PING when nothing arrived
// for a while, acknowledged by the peer's stack), so the peer can be
// known to be there without a stream per heartbeat.
type Liveness interface {
	// Received counts the packets received from the peer. While the peer
	// is reachable it grows at least about once per KeepAlive.
	Received() uint64
	// KeepAlive is the longest the transport now lets the link go without
	// receiving a packet before it sends one that the peer must answer
	// (it may grow with the round trip); 0 when it sends none.
	KeepAlive() time.Duration
}

// Listener accepts authenticated connections.
type Listener interface {
	Accept(ctx context.Context) (Conn, error)
	// Addr is the address peers dial.
	Addr() string
	Close() error
}

// Network makes connections. want, when not empty, is the node name the
// peer must prove; a peer that proves another name is refused.
type Network interface {
	Listen(addr string) (Listener, error)
	Dial(ctx context.Context, addr string, want kernel.NodeName) (Conn, error)
}
