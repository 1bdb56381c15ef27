package identity

import (
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
	"math/big"
	"sync"
	"time"

	"github.com/canopy-fleet/canopy/kernel"
)

// Errors of certificate checks; callers log them and refuse the peer.
var (
	ErrNoCertificate = errors.New("peer presented no certificate")
	ErrRevoked       = errors.New("certificate revoked")
	ErrWrongName     = errors.New("certificate names another node")
	ErrPinMismatch   = errors.New("ca hash does not match the pin")
)

// Verifier checks peer certificates against the cluster CA. Zero Now means
// time.Now; nil Revoked means nothing is revoked.
type Verifier struct {
	CA      *x509.Certificate
	Revoked func(serial *big.Int) bool
	Now     func() time.Time

	rootsOnce sync.Once
	roots     *x509.CertPool // CA alone, made on first use
}

// Peer is what a verified certificate says about the node that holds it.
type Peer struct {
	Name   kernel.NodeName
	Role   kernel.Role
	Serial *big.Int
	Expiry time.Time
}

// Verify checks a certificate chain as TLS presents it (leaf first): it must
// chain to the cluster CA, be valid now, not be revoked and name a node and
// role. When want is not empty the certificate must name that node.
func (v *Verifier) Verify(rawCerts [][]byte, want kernel.NodeName) (Peer, error) {
	if len(rawCerts) == 0 {
		return Peer{}, ErrNoCertificate
	}
	leaf, err := x509.ParseCertificate(rawCerts[0])
	if err != nil {
		return Peer{}, fmt.Errorf("peer certificate: %w", err)
	}
	return v.VerifyCert(leaf, want)
}

// VerifyCert is Verify for a certificate already parsed, such as
// tls.ConnectionState.PeerCertificates[0]: a TLS handshake parses the
// peer's certificate itself, and parsing it again left about 2 KiB of
// garbage per handshake (docs/BENCHMARKS.md, Mesh).
func (v *Verifier) VerifyCert(leaf *x509.Certificate, want kernel.NodeName) (Peer, error) {
	if leaf == nil {
		return Peer{}, ErrNoCertificate
	}
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	v.rootsOnce.Do(func() {
		v.roots = x509.NewCertPool()
		v.roots.AddCert(v.CA)
	})
	if _, err := leaf.Verify(x509.VerifyOptions{
		Roots:       v.roots,
		CurrentTime: now(),
		KeyUsages:   []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	}); err != nil {
		return Peer{}, fmt.Errorf("peer certificate %q: %w", leaf.Subject.CommonName, err)
	}
	if v.Revoked != nil && v.Revoked(leaf.SerialNumber) {
		return Peer{}, fmt.Errorf("peer certificate %q serial %s: %w", leaf.Subject.CommonName, leaf.SerialNumber.Text(16), ErrRevoked)
	}
	name, role, err := PeerOf(leaf)
	if err != nil {
		return Peer{}, err
	}
	if want != "" && name != want {
		return Peer{}, fmt.Errorf("peer certificate names %q, want %q: %w", name, want, ErrWrongName)
	}
	return Peer{Name: name, Role: role, Serial: leaf.SerialNumber, Expiry: leaf.NotAfter}, nil
}

// VerifyPinned checks a server's chain on first contact, before the joining
// node knows the CA: some certificate in the chain must be a CA whose hash
// equals pin, and the leaf must chain to it. It returns that CA certificate.
func VerifyPinned(rawCerts [][]byte, pin string, now time.Time) (*x509.Certificate, error) {
	if err := ValidateCAHash(pin); err != nil {
		return nil, err
	}
	if len(rawCerts) < 2 {
		return nil, fmt.Errorf("server sent %d certificates, want leaf and CA: %w", len(rawCerts), ErrPinMismatch)
	}
	leaf, err := x509.ParseCertificate(rawCerts[0])
	if err != nil {
		return nil, fmt.Errorf("server certificate: %w", err)
	}
	for _, raw := range rawCerts[1:] {
		ca, err := x509.ParseCertificate(raw)
		if err != nil || !ca.IsCA || CAHash(ca) != pin {
			continue
		}
		v := Verifier{CA: ca, Now: func() time.Time { return now }}
		if _, err := v.Verify(rawCerts[:1], ""); err != nil {
			return nil, err
		}
		_ = leaf
		return ca, nil
	}
	return nil, ErrPinMismatch
}

// SameCert reports whether two certificates are the same bytes.
func SameCert(a, b *x509.Certificate) bool { return bytes.Equal(a.Raw, b.Raw) }
