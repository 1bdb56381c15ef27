package identity

import (
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/canopy-fleet/canopy/kernel"
)

// Files of a CA directory.
const (
	caCertFile  = "ca.crt"
	caKeyFile   = "ca.key"
	revokedFile = "revoked"
)

// DefaultCertTTL is the lifetime of node certificates when the caller gives none.
const DefaultCertTTL = 30 * 24 * time.Hour

// CA is the cluster certificate authority. It signs node certificates and
// keeps the list of revoked serial numbers. Safe for concurrent use.
type CA struct {
	Cert *x509.Certificate
	key  crypto.Signer
	dir  string
	now  func() time.Time

	mu      sync.Mutex
	revoked map[string]time.Time // serial, lowercase hex → until when the entry matters (the certificate's expiry; zero: always)
}

// LoadOrCreateCA loads the CA kept in dir (an Ed25519 or ECDSA key), or
// creates one (ten years, Ed25519) when dir holds none. now is the clock; nil means time.Now.
func LoadOrCreateCA(dir string, now func() time.Time) (*CA, error) {
	if now == nil {
		now = time.Now
	}
	ca := &CA{dir: dir, now: now, revoked: map[string]time.Time{}}
	certPath := filepath.Join(dir, caCertFile)
	b, err := os.ReadFile(certPath)
	switch {
	case err == nil:
		if ca.Cert, err = DecodeCert(b); err != nil {
			return nil, fmt.Errorf("ca %s: %w", certPath, err)
		}
		if ca.key, err = LoadKey(filepath.Join(dir, caKeyFile)); err != nil {
			return nil, fmt.Errorf("ca: %w", err)
		}
	case errors.Is(err, fs.ErrNotExist):
		if ca.key, err = LoadOrCreateKey(filepath.Join(dir, caKeyFile)); err != nil {
			return nil, fmt.Errorf("ca: %w", err)
		}
		if err := ca.selfSign(certPath); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("ca %s: %w", certPath, err)
	}
	if err := ca.loadRevoked(); err != nil {
		return nil, err
	}
	return ca, nil
}

func (ca *CA) selfSign(path string) error {
	now := ca.now()
	tmpl := &x509.Certificate{
		SerialNumber:          randomSerial(),
		Subject:               pkix.Name{CommonName: "canopy cluster CA"},
		NotBefore:             now.Add(-time.Minute),
		NotAfter:              now.Add(10 * 365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, ca.key.Public(), ca.key)
	if err != nil {
		return fmt.Errorf("ca: self-sign: %w", err)
	}
	if ca.Cert, err = x509.ParseCertificate(der); err != nil {
		return fmt.Errorf("ca: %w", err)
	}
	return writeFile(path, EncodeCert(der), 0o644)
}

// Hash is the pin a joining node checks: "sha256:" and the hex SHA-256 of
// the CA certificate's SubjectPublicKeyInfo.
func (ca *CA) Hash() string { return CAHash(ca.Cert) }

// CAHash computes the pin of any CA certificate (see Hash).
func CAHash(c *x509.Certificate) string {
	sum := sha256.Sum256(c.RawSubjectPublicKeyInfo)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// ValidateCAHash checks the form of a pin: "sha256:" and 64 hex digits.
func ValidateCAHash(pin string) error {
	h, ok := strings.CutPrefix(pin, "sha256:")
	if !ok {
		return fmt.Errorf("ca hash %q: want sha256:HEX", pin)
	}
	if b, err := hex.DecodeString(h); err != nil || len(b) != sha256.Size {
		return fmt.Errorf("ca hash %q: want 64 hex digits after sha256:", pin)
	}
	return nil
}

// Sign checks a certificate signing request (its signature, a valid node
// name as CN) and returns the DER of a certificate naming the node and role,
// valid for ttl (DefaultCertTTL when 0).
func (ca *CA) Sign(csrDER []byte, role kernel.Role, ttl time.Duration) ([]byte, error) {
	csr, err := x509.ParseCertificateRequest(csrDER)
	if err != nil {
		return nil, fmt.Errorf("csr: %w", err)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("csr: signature: %w", err)
	}
	name := csr.Subject.CommonName
	if !kernel.ValidName(name) {
		return nil, fmt.Errorf("csr: node name %q is not a valid name (1-63 lowercase letters, digits, dashes)", name)
	}
	if err := validRole(role); err != nil {
		return nil, fmt.Errorf("csr: %w", err)
	}
	if ttl <= 0 {
		ttl = DefaultCertTTL
	}
	now := ca.now()
	tmpl := &x509.Certificate{
		SerialNumber: randomSerial(),
		Subject:      pkix.Name{CommonName: name, OrganizationalUnit: []string{string(role)}},
		DNSNames:     []string{name},
		NotBefore:    now.Add(-time.Minute),
		NotAfter:     now.Add(ttl),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, csr.PublicKey, ca.key)
	if err != nil {
		return nil, fmt.Errorf("sign %s: %w", name, err)
	}
	return der, nil
}

// Revoke adds a certificate's serial number to the revocation list and
// persists the list. The entry stays for good; RevokeUntil lets it go
// once the certificate has expired.
func (ca *CA) Revoke(serial *big.Int) error { return ca.RevokeUntil(serial, time.Time{}) }

// RevokeUntil adds a certificate's serial number to the revocation list
// until notAfter, the certificate's expiry (zero: for good), and persists
// the list. After its expiry the certificate is refused for that, so the
// entry is dropped and the list that every gateway fetches stays small.
func (ca *CA) RevokeUntil(serial *big.Int, notAfter time.Time) error {
	ca.mu.Lock()
	defer ca.mu.Unlock()
	ca.revoked[serial.Text(16)] = notAfter.UTC()
	return ca.saveRevokedLocked()
}

// revokedSkew is how long after a revoked certificate's expiry its entry
// stays: a node whose clock is behind still refuses it meanwhile.
const revokedSkew = time.Hour

// pruneRevokedLocked drops the entries of certificates that have expired
// and reports whether it dropped any.
func (ca *CA) pruneRevokedLocked() bool {
	now, pruned := ca.now(), false
	for s, until := range ca.revoked {
		if !until.IsZero() && now.After(until.Add(revokedSkew)) {
			delete(ca.revoked, s)
			pruned = true
		}
	}
	return pruned
}

// saveRevokedLocked writes the list: a serial per line, with its expiry
// (RFC 3339) when it has one.
func (ca *CA) saveRevokedLocked() error {
	ca.pruneRevokedLocked()
	list := make([]string, 0, len(ca.revoked))
	for s, until := range ca.revoked {
		if until.IsZero() {
			list = append(list, s)
		} else {
			list = append(list, s+" "+until.Format(time.RFC3339))
		}
	}
	sort.Strings(list)
	return writeFile(filepath.Join(ca.dir, revokedFile), []byte(strings.Join(list, "\n")+"\n"), 0o600)
}

// IsRevoked reports whether the serial number was revoked.
func (ca *CA) IsRevoked(serial *big.Int) bool {
	ca.mu.Lock()
	defer ca.mu.Unlock()
	_, ok := ca.revoked[serial.Text(16)]
	return ok
}

func (ca *CA) loadRevoked() error {
	b, err := os.ReadFile(filepath.Join(ca.dir, revokedFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("ca: revoked list: %w", err)
	}
	for i, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		var until time.Time
		if len(f) > 1 {
			if until, err = time.Parse(time.RFC3339, f[1]); err != nil {
				return fmt.Errorf("ca: revoked list line %d: expiry %q: want RFC 3339", i+1, f[1])
			}
		}
		ca.revoked[f[0]] = until
	}
	return nil
}

func randomSerial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	return n
}

func validRole(r kernel.Role) error {
	switch r {
	case kernel.RoleController, kernel.RoleGateway, kernel.RoleLeaf:
		return nil
	}
	return fmt.Errorf("role %q: want controller, gateway or leaf", r)
}
