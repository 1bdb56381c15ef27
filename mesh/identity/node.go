package identity

import (
	"crypto"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/canopy-fleet/canopy/kernel"
)

// Files of a node's identity directory.
const (
	nodeKeyFile  = "node.key"
	nodeCertFile = "node.crt"
)

// Node is one node's identity: its private key (made on the device, never
// sent anywhere), its certificate from the cluster CA and the CA certificate.
type Node struct {
	Name kernel.NodeName
	Role kernel.Role
	Key  crypto.Signer // Ed25519, or ECDSA when made before Ed25519
	Cert *x509.Certificate
	CA   *x509.Certificate
}

// NewCSR makes a certificate signing request for name with key.
func NewCSR(key crypto.Signer, name kernel.NodeName) ([]byte, error) {
	if !kernel.ValidName(string(name)) {
		return nil, fmt.Errorf("node name %q is not a valid name (1-63 lowercase letters, digits, dashes)", name)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject:  pkix.Name{CommonName: string(name)},
		DNSNames: []string{string(name)},
	}, key)
	if err != nil {
		return nil, fmt.Errorf("csr: %w", err)
	}
	return der, nil
}

// NewNode builds an identity from a key, a signed certificate and the CA
// certificate, checking that the certificate is for this key and names a
// node and role.
func NewNode(key crypto.Signer, certDER, caDER []byte) (*Node, error) {
	cert, err := DecodeCert(certDER)
	if err != nil {
		return nil, err
	}
	ca, err := DecodeCert(caDER)
	if err != nil {
		return nil, fmt.Errorf("ca: %w", err)
	}
	pub, ok := cert.PublicKey.(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(key.Public()) {
		return nil, fmt.Errorf("certificate for %q is not for this node's key", cert.Subject.CommonName)
	}
	name, role, err := PeerOf(cert)
	if err != nil {
		return nil, err
	}
	return &Node{Name: name, Role: role, Key: key, Cert: cert, CA: ca}, nil
}

// PeerOf reads the node name and role a certificate names.
func PeerOf(c *x509.Certificate) (kernel.NodeName, kernel.Role, error) {
	name := c.Subject.CommonName
	if !kernel.ValidName(name) {
		return "", "", fmt.Errorf("certificate names %q, not a valid node name", name)
	}
	if len(c.Subject.OrganizationalUnit) != 1 {
		return "", "", fmt.Errorf("certificate for %q names no role", name)
	}
	role := kernel.Role(c.Subject.OrganizationalUnit[0])
	if err := validRole(role); err != nil {
		return "", "", fmt.Errorf("certificate for %q: %w", name, err)
	}
	return kernel.NodeName(name), role, nil
}

// TLSCertificate is the node's certificate chain (leaf, then CA) for TLS.
func (n *Node) TLSCertificate() tls.Certificate {
	return tls.Certificate{
		Certificate: [][]byte{n.Cert.Raw, n.CA.Raw},
		PrivateKey:  n.Key,
		Leaf:        n.Cert,
	}
}

// NeedsRenewal reports whether less than a third of the certificate's
// lifetime remains at now.
func (n *Node) NeedsRenewal(now time.Time) bool {
	life := n.Cert.NotAfter.Sub(n.Cert.NotBefore)
	return n.Cert.NotAfter.Sub(now) < life/3
}

// Save writes the certificate and CA certificate to dir (the key was
// written by LoadOrCreateKey when it was made).
func (n *Node) Save(dir string) error {
	if err := writeFile(filepath.Join(dir, nodeCertFile), EncodeCert(n.Cert.Raw), 0o644); err != nil {
		return err
	}
	return writeFile(filepath.Join(dir, caCertFile), EncodeCert(n.CA.Raw), 0o644)
}

// NodeKeyPath is where a node keeps its private key in dir.
func NodeKeyPath(dir string) string { return filepath.Join(dir, nodeKeyFile) }

// LoadNode reads an identity saved in dir.
func LoadNode(dir string) (*Node, error) {
	key, err := LoadKey(NodeKeyPath(dir))
	if err != nil {
		return nil, err
	}
	cert, err := os.ReadFile(filepath.Join(dir, nodeCertFile))
	if err != nil {
		return nil, fmt.Errorf("node certificate: %w", err)
	}
	ca, err := os.ReadFile(filepath.Join(dir, caCertFile))
	if err != nil {
		return nil, fmt.Errorf("ca certificate: %w", err)
	}
	return NewNode(key, cert, ca)
}
