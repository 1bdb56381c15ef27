package identity

import (
	"crypto/x509"
	"errors"
	"path/filepath"
	"testing"

	"github.com/canopy-fleet/canopy/kernel"
)

// OnIssue sees every certificate Join and Renew sign, the very one handed
// out; when it fails, the certificate is refused.
func TestAuthorityOnIssue(t *testing.T) {
	ca, err := LoadOrCreateCA(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var seen []*x509.Certificate
	var fail error
	a := &Authority{CA: ca, Tokens: NewTokens(nil), OnIssue: func(c *x509.Certificate) error {
		if fail != nil {
			return fail
		}
		seen = append(seen, c)
		return nil
	}}
	key, err := LoadOrCreateKey(filepath.Join(t.TempDir(), "k"))
	if err != nil {
		t.Fatal(err)
	}
	csr, _ := NewCSR(key, "pi-1")
	tok, _ := a.Tokens.Create(kernel.RoleLeaf, 0)
	cert, _, err := a.Join(tok, csr)
	if err != nil {
		t.Fatal(err)
	}
	renewed, err := a.Renew("pi-1", kernel.RoleLeaf, csr)
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) != 2 || string(seen[0].Raw) != string(cert) || string(seen[1].Raw) != string(renewed) {
		t.Fatalf("OnIssue saw %d certificates, want the joined and the renewed one", len(seen))
	}
	if seen[0].SerialNumber.Cmp(seen[1].SerialNumber) == 0 || seen[1].Subject.CommonName != "pi-1" {
		t.Fatalf("serials %s %s, name %q", seen[0].SerialNumber, seen[1].SerialNumber, seen[1].Subject.CommonName)
	}

	fail = errors.New("disk full")
	tok, _ = a.Tokens.Create(kernel.RoleLeaf, 0)
	if _, _, err := a.Join(tok, csr); !errors.Is(err, fail) {
		t.Fatalf("join with OnIssue failing: %v", err)
	}
	if _, err := a.Renew("pi-1", kernel.RoleLeaf, csr); !errors.Is(err, fail) {
		t.Fatalf("renew with OnIssue failing: %v", err)
	}
}
