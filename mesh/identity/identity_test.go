package identity

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/canopy-fleet/canopy/kernel"
)

type fakeNow struct{ t time.Time }

func (f *fakeNow) Now() time.Time { return f.t }

func newNode(t *testing.T, a *Authority, name kernel.NodeName, role kernel.Role) *Node {
	t.Helper()
	dir := t.TempDir()
	key, err := LoadOrCreateKey(NodeKeyPath(dir))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := a.Tokens.Create(role, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	csr, err := NewCSR(key, name)
	if err != nil {
		t.Fatal(err)
	}
	cert, ca, err := a.Join(tok, csr)
	if err != nil {
		t.Fatal(err)
	}
	n, err := NewNode(key, cert, ca)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestCAPersistsAndKeyModes(t *testing.T) {
	dir := t.TempDir()
	ca, err := LoadOrCreateCA(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(filepath.Join(dir, caKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("ca.key mode %v, want 0600", st.Mode().Perm())
	}
	again, err := LoadOrCreateCA(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if again.Hash() != ca.Hash() || ValidateCAHash(ca.Hash()) != nil {
		t.Fatalf("hash changed across restart or is malformed: %s vs %s", ca.Hash(), again.Hash())
	}
	if err := os.Chmod(filepath.Join(dir, caKeyFile), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateCA(dir, nil); err == nil {
		t.Fatal("a CA key readable by others was accepted")
	}
}

func TestJoinVerifyRevokeRenew(t *testing.T) {
	clk := &fakeNow{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	ca, err := LoadOrCreateCA(t.TempDir(), clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	a := &Authority{CA: ca, Tokens: NewTokens(clk.Now), CertTTL: time.Hour}
	n := newNode(t, a, "leaf-1", kernel.RoleLeaf)
	if n.Name != "leaf-1" || n.Role != kernel.RoleLeaf {
		t.Fatalf("identity %s/%s", n.Name, n.Role)
	}
	v := &Verifier{CA: ca.Cert, Revoked: ca.IsRevoked, Now: clk.Now}
	chain := n.TLSCertificate().Certificate
	p, err := v.Verify(chain, "leaf-1")
	if err != nil || p.Name != "leaf-1" || p.Role != kernel.RoleLeaf {
		t.Fatalf("verify: %+v %v", p, err)
	}
	if _, err := v.Verify(chain, "leaf-2"); !errors.Is(err, ErrWrongName) {
		t.Fatalf("cert for another name: got %v", err)
	}
	if _, err := v.Verify(nil, ""); !errors.Is(err, ErrNoCertificate) {
		t.Fatalf("no cert: got %v", err)
	}
	// Another CA's certificate is refused.
	other, err := LoadOrCreateCA(t.TempDir(), clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	imp := newNode(t, &Authority{CA: other, Tokens: NewTokens(clk.Now)}, "leaf-1", kernel.RoleLeaf)
	if _, err := v.Verify(imp.TLSCertificate().Certificate, ""); err == nil {
		t.Fatal("certificate from another CA accepted")
	}
	// Pinning: the right pin finds the CA, a wrong one does not.
	got, err := VerifyPinned(chain, ca.Hash(), clk.t)
	if err != nil || !SameCert(got, ca.Cert) {
		t.Fatalf("pinned: %v", err)
	}
	if _, err := VerifyPinned(chain, other.Hash(), clk.t); !errors.Is(err, ErrPinMismatch) {
		t.Fatalf("wrong pin: got %v", err)
	}
	// Renewal is due in the last third of the lifetime; expiry is refused.
	if n.NeedsRenewal(clk.t) {
		t.Fatal("fresh certificate needs renewal")
	}
	clk.t = clk.t.Add(45 * time.Minute)
	if !n.NeedsRenewal(clk.t) {
		t.Fatal("certificate with 15 of 60 minutes left does not need renewal")
	}
	csr, _ := NewCSR(n.Key, n.Name)
	der, err := a.Renew(n.Name, n.Role, csr)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Renew("leaf-9", n.Role, csr); !errors.Is(err, ErrWrongName) {
		t.Fatalf("renew for another name: got %v", err)
	}
	clk.t = clk.t.Add(30 * time.Minute)
	if _, err := v.Verify(chain, ""); err == nil {
		t.Fatal("expired certificate accepted")
	}
	renewed, err := NewNode(n.Key, der, ca.Cert.Raw)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(renewed.TLSCertificate().Certificate, "leaf-1"); err != nil {
		t.Fatalf("renewed certificate: %v", err)
	}
	if err := ca.Revoke(renewed.Cert.SerialNumber); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(renewed.TLSCertificate().Certificate, ""); !errors.Is(err, ErrRevoked) {
		t.Fatalf("revoked: got %v", err)
	}
	// The revocation list survives a restart.
	ca2, err := LoadOrCreateCA(ca.dir, clk.Now)
	if err != nil || !ca2.IsRevoked(renewed.Cert.SerialNumber) {
		t.Fatalf("revocation lost across restart: %v", err)
	}
}

func TestTokens(t *testing.T) {
	clk := &fakeNow{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	ts := NewTokens(clk.Now)
	tok, err := ts.Create(kernel.RoleGateway, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if role, err := ts.Redeem(tok); err != nil || role != kernel.RoleGateway {
		t.Fatalf("redeem: %s %v", role, err)
	}
	expired, _ := ts.Create(kernel.RoleLeaf, time.Minute)
	revoked, _ := ts.Create(kernel.RoleLeaf, time.Minute)
	if _, err := ts.Revoke(revoked[:6], nil); err != nil {
		t.Fatal(err)
	}
	wrongSecret := tok[:7] + "aaaaaaaaaaaaaaaa"
	clk.t = clk.t.Add(2 * time.Minute)
	for _, c := range []struct {
		name, tok string
		want      error
	}{
		{"replayed", tok, ErrTokenUsed},
		{"expired", expired, ErrTokenExpired},
		{"revoked", revoked, ErrTokenRevoked},
		{"wrong secret", wrongSecret, ErrTokenUnknown},
		{"unknown id", "zzzzzz.aaaaaaaaaaaaaaaa", ErrTokenUnknown},
		{"malformed", "not-a-token", ErrTokenMalformed},
		{"empty", "", ErrTokenMalformed},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, err := ts.Redeem(c.tok); !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
		})
	}
	if _, err := ts.Create("root", 0); err == nil {
		t.Fatal("bad role accepted")
	}
	if err := ts.Prune(); err != nil || len(ts.m) != 3 {
		t.Fatalf("prune forgot tokens expired a minute ago (%d left, %v): they are kept for KeepExpired", len(ts.m), err)
	}
	clk.t = clk.t.Add(KeepExpired + time.Minute)
	if err := ts.Prune(); err != nil || len(ts.m) != 0 {
		t.Fatalf("prune left %d tokens, %v", len(ts.m), err)
	}
}

func TestSignRejectsBadCSR(t *testing.T) {
	ca, err := LoadOrCreateCA(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ca.Sign([]byte("garbage"), kernel.RoleLeaf, 0); err == nil {
		t.Fatal("garbage csr signed")
	}
	key, _ := LoadOrCreateKey(filepath.Join(t.TempDir(), "k"))
	if _, err := NewCSR(key, "Bad_Name"); err == nil {
		t.Fatal("bad name accepted")
	}
	csr, _ := NewCSR(key, "ok")
	if _, err := ca.Sign(csr, "king", 0); err == nil {
		t.Fatal("bad role signed")
	}
}

// TestIssue: an identity issued directly names its node and role, and a
// second Issue on the same directory returns it instead of a new one.
func TestIssue(t *testing.T) {
	ca, err := LoadOrCreateCA(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	a := &Authority{CA: ca, Tokens: NewTokens(nil)}
	dir := t.TempDir()
	n, err := a.Issue(dir, "sim-leaf-1", kernel.RoleLeaf)
	if err != nil {
		t.Fatal(err)
	}
	if n.Name != "sim-leaf-1" || n.Role != kernel.RoleLeaf {
		t.Fatalf("issued %s/%s", n.Name, n.Role)
	}
	again, err := a.Issue(dir, "sim-leaf-1", kernel.RoleLeaf)
	if err != nil {
		t.Fatal(err)
	}
	if !again.Cert.Equal(n.Cert) {
		t.Fatal("second Issue made a new certificate")
	}
}
