package identity

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/canopy-fleet/canopy/kernel"
)

// Authority answers join and renewal requests: it holds the CA and the
// join tokens. It runs on controllers.
type Authority struct {
	CA *CA
	// Tokens issues and redeems join tokens: NewTokens keeps them in
	// memory; a controller that must keep them across restarts gives a
	// durable TokenStore of its own.
	Tokens TokenStore
	// CertTTL is the lifetime of issued certificates; 0 means DefaultCertTTL.
	CertTTL time.Duration
	// Admit, when set, may refuse a join by the node name the CSR asks for
	// and the hash of its public key (KeyHash), before the token is
	// redeemed, so a refused name does not use the token up. It is asked
	// only once the token checked good (TokenStore.Check), so that what it
	// says about names is told to token holders alone. A controller uses it
	// to keep one name to one device.
	Admit func(name kernel.NodeName, keyHash string) error
	// OnJoin, when set, is told of every node Join issued a certificate
	// to (to record it), with its key's hash; it runs before Join returns.
	OnJoin func(name kernel.NodeName, role kernel.Role, keyHash string)
	// OnIssue, when set, is told of every certificate Join or Renew signs,
	// before it is handed out, so that the controller can revoke a node's
	// certificates by its name later. An error refuses the certificate.
	OnIssue func(cert *x509.Certificate) error
}

// issued tells OnIssue of the certificate der.
func (a *Authority) issued(der []byte) error {
	if a.OnIssue == nil {
		return nil
	}
	c, err := DecodeCert(der)
	if err != nil {
		return err
	}
	if err := a.OnIssue(c); err != nil {
		return fmt.Errorf("certificate for %s not recorded: %w", c.Subject.CommonName, err)
	}
	return nil
}

// KeyHash names a public key: "sha256:" and the hex SHA-256 of its
// SubjectPublicKeyInfo.
func KeyHash(spkiDER []byte) string {
	h := sha256.Sum256(spkiDER)
	return "sha256:" + hex.EncodeToString(h[:])
}

// Join redeems a token (single use) and signs the CSR for the role the
// token grants. It returns the certificate and the CA certificate, DER.
// A refused token's error is the store's (ErrTokenUsed and the others).
func (a *Authority) Join(token string, csrDER []byte) (cert, ca []byte, err error) {
	if a.Tokens == nil {
		return nil, nil, errors.New("join: this authority has no token store")
	}
	csr, err := x509.ParseCertificateRequest(csrDER)
	if err != nil {
		return nil, nil, fmt.Errorf("join: csr: %w", err)
	}
	name, key := kernel.NodeName(csr.Subject.CommonName), KeyHash(csr.RawSubjectPublicKeyInfo)
	if a.Admit != nil {
		// Peers without a valid token learn nothing of the names in use.
		if _, err := a.Tokens.Check(token); err != nil {
			return nil, nil, err
		}
		if err := a.Admit(name, key); err != nil {
			return nil, nil, err
		}
	}
	role, err := a.Tokens.Redeem(token)
	if err != nil {
		return nil, nil, err
	}
	cert, err = a.CA.Sign(csrDER, role, a.CertTTL)
	if err != nil {
		return nil, nil, fmt.Errorf("join: %w", err)
	}
	if err := a.issued(cert); err != nil {
		return nil, nil, fmt.Errorf("join: %w", err)
	}
	if a.OnJoin != nil {
		a.OnJoin(name, role, key)
	}
	return cert, a.CA.Cert.Raw, nil
}

// Renew signs a new certificate for a node that is already authenticated as
// peer: the CSR must name the same node, and the role stays the same.
func (a *Authority) Renew(peer kernel.NodeName, role kernel.Role, csrDER []byte) ([]byte, error) {
	cert, err := a.CA.Sign(csrDER, role, a.CertTTL)
	if err != nil {
		return nil, fmt.Errorf("renew: %w", err)
	}
	c, err := DecodeCert(cert)
	if err != nil {
		return nil, err
	}
	if kernel.NodeName(c.Subject.CommonName) != peer {
		return nil, fmt.Errorf("renew: csr names %q but the link is %q: %w", c.Subject.CommonName, peer, ErrWrongName)
	}
	if err := a.issued(cert); err != nil {
		return nil, fmt.Errorf("renew: %w", err)
	}
	return cert, nil
}

// Bootstrap returns the controller's own identity kept in dir, issuing it
// from the CA on the first start (the controller cannot join anyone).
func (a *Authority) Bootstrap(dir string, name kernel.NodeName) (*Node, error) {
	return a.Issue(dir, name, kernel.RoleController)
}

// Issue returns the identity kept in dir, or on first use makes a key pair
// there and signs a certificate for name and role directly from the CA, with
// no token: for nodes the authority's own process runs (the controller, the
// simulated nodes of an in-process cluster). Devices join with a token.
func (a *Authority) Issue(dir string, name kernel.NodeName, role kernel.Role) (*Node, error) {
	if n, err := LoadNode(dir); err == nil {
		return n, nil
	}
	key, err := LoadOrCreateKey(NodeKeyPath(dir))
	if err != nil {
		return nil, err
	}
	csr, err := NewCSR(key, name)
	if err != nil {
		return nil, err
	}
	cert, err := a.CA.Sign(csr, role, a.CertTTL)
	if err != nil {
		return nil, err
	}
	n, err := NewNode(key, cert, a.CA.Cert.Raw)
	if err != nil {
		return nil, err
	}
	return n, n.Save(dir)
}
