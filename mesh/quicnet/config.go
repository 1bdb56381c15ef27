// Package quicnet is the mesh's real network: link.Network over quic-go with
// mutual TLS 1.3 against the cluster CA, ALPN "canopy/1", 0-RTT off, and
// the join handshake (ALPN "canopy-join/1") through which a new node pins
// the CA, proves a token and gets its certificate.
package quicnet

import (
	"context"
	"errors"
	"log/slog"
	"math/big"
	"time"

	"github.com/canopy-fleet/canopy/mesh/identity"
)

// ALPN protocol names.
const (
	ALPN     = "canopy/1"
	ALPNJoin = "canopy-join/1"
)

// JoinFunc answers a join on a listener: it redeems the token and signs the
// CSR, returning the certificate and CA certificate (DER). Controllers use
// identity.Authority.Join; gateways relay to their controller.
type JoinFunc func(ctx context.Context, token string, csr []byte) (cert, ca []byte, err error)

// Config configures a Network. Zero values mean the defaults shown.
type Config struct {
	// Identity is this node's key and certificate. Required.
	Identity *identity.Node
	// Revoked reports revoked certificate serials; nil means none.
	Revoked func(serial *big.Int) bool
	// Now is the clock for certificate checks; nil means time.Now.
	Now func() time.Time
	// Logger receives refusals and joins; nil discards.
	Logger *slog.Logger
	// MaxIncomingStreams is how many streams a peer may have open at once
	// on one connection (default 256); openers beyond it wait.
	MaxIncomingStreams int64
	// MaxIdleTimeout ends a silent connection (default 5s).
	MaxIdleTimeout time.Duration
	// KeepAlivePeriod is how long a connection may go without receiving
	// before it sends a PING the peer acknowledges (default 500ms). The
	// mesh knows a peer is alive from those packets (link.Liveness) when
	// it is at most a third of the mesh's LostAfter.
	KeepAlivePeriod time.Duration
	// HandshakeTimeout bounds the TLS handshake (default 3s).
	HandshakeTimeout time.Duration
	// Join answers joins on listeners; nil refuses them.
	Join JoinFunc
	// MaxConcurrentJoins bounds join handshakes served at once (default 16);
	// more are refused so a flood cannot exhaust the node.
	MaxConcurrentJoins int
	// ClassicalKeyExchange offers and accepts X25519 alone instead of
	// crypto/tls's default, which prefers the post-quantum hybrid
	// X25519MLKEM768. Its 1.2 KB key shares make the handshake messages
	// that crypto/tls and quic-go keep for the life of a connection
	// larger: measured at about 4 KiB per idle connection at a gateway
	// (docs/BENCHMARKS.md, Mesh). Off by default: it gives up protection of
	// recorded traffic against a future quantum computer. Both ends of a
	// link must set it for the full saving.
	ClassicalKeyExchange bool
}

// Validate reports every problem with the configuration.
func (c *Config) Validate() error {
	var errs []error
	if c.Identity == nil {
		errs = append(errs, errors.New("quicnet: Identity is required"))
	}
	if c.MaxIncomingStreams < 0 {
		errs = append(errs, errors.New("quicnet: MaxIncomingStreams must not be negative"))
	}
	if c.MaxIdleTimeout < 0 || c.KeepAlivePeriod < 0 || c.HandshakeTimeout < 0 {
		errs = append(errs, errors.New("quicnet: timeouts must not be negative"))
	}
	return errors.Join(errs...)
}

func (c Config) withDefaults() Config {
	if c.MaxIncomingStreams == 0 {
		c.MaxIncomingStreams = 256
	}
	if c.MaxIdleTimeout == 0 {
		c.MaxIdleTimeout = 5 * time.Second
	}
	if c.KeepAlivePeriod == 0 {
		c.KeepAlivePeriod = 500 * time.Millisecond
	}
	if c.HandshakeTimeout == 0 {
		c.HandshakeTimeout = 3 * time.Second
	}
	if c.MaxConcurrentJoins == 0 {
		c.MaxConcurrentJoins = 16
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// joinRequest and joinResponse are the join stream's messages.
type joinRequest struct {
	Token string
	CSR   []byte
}

type joinResponse struct {
	Cert  []byte `cbor:",omitempty"`
	CA    []byte `cbor:",omitempty"`
	Error string `cbor:",omitempty"`
}
