package identity

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/canopy-fleet/canopy/kernel"
)

// writeLegacyKey writes an ECDSA P-256 key as versions before Ed25519 did
// (SEC 1, "EC PRIVATE KEY", mode 0600).
func writeLegacyKey(t *testing.T, path string) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := writeFile(path, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return key
}

// TestNewKeysAreEd25519: new keys and a new CA are Ed25519, written as
// PKCS#8, and load back as the same key.
func TestNewKeysAreEd25519(t *testing.T) {
	path := filepath.Join(t.TempDir(), "k")
	key, err := LoadOrCreateKey(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := key.(ed25519.PrivateKey); !ok {
		t.Fatalf("new key is %T, want ed25519.PrivateKey", key)
	}
	b, _ := os.ReadFile(path)
	if !strings.HasPrefix(string(b), "-----BEGIN PRIVATE KEY-----") {
		t.Fatalf("key file starts %q, want a PKCS#8 PRIVATE KEY block", strings.SplitN(string(b), "\n", 2)[0])
	}
	again, err := LoadOrCreateKey(path)
	if err != nil {
		t.Fatal(err)
	}
	if !again.(ed25519.PrivateKey).Equal(key) {
		t.Fatal("reloaded key differs")
	}
	ca, err := LoadOrCreateCA(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := ca.Cert.PublicKey.(ed25519.PublicKey); !ok || ca.Cert.SignatureAlgorithm != x509.PureEd25519 {
		t.Fatalf("new CA key %T signed with %v, want Ed25519", ca.Cert.PublicKey, ca.Cert.SignatureAlgorithm)
	}
}

// TestLegacyECDSAKeysKeepWorking: a data directory made before Ed25519
// (ECDSA CA key and node keys in SEC 1 files) loads, signs and renews; new
// nodes joining it get Ed25519 keys, and both kinds verify.
func TestLegacyECDSAKeysKeepWorking(t *testing.T) {
	caDir := t.TempDir()
	writeLegacyKey(t, filepath.Join(caDir, caKeyFile))
	ca, err := LoadOrCreateCA(caDir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := ca.Cert.PublicKey.(*ecdsa.PublicKey); !ok {
		t.Fatalf("CA made on a legacy key has a %T key", ca.Cert.PublicKey)
	}
	if again, err := LoadOrCreateCA(caDir, nil); err != nil || again.Hash() != ca.Hash() {
		t.Fatalf("reload legacy CA: %v", err)
	}
	a := &Authority{CA: ca, Tokens: NewTokens(nil)}

	oldDir := t.TempDir()
	writeLegacyKey(t, NodeKeyPath(oldDir))
	old, err := a.Issue(oldDir, "old-leaf", kernel.RoleLeaf)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := old.Key.(*ecdsa.PrivateKey); !ok {
		t.Fatalf("legacy node key loaded as %T", old.Key)
	}
	if loaded, err := LoadNode(oldDir); err != nil || !loaded.Cert.Equal(old.Cert) {
		t.Fatalf("LoadNode of a legacy identity: %v", err)
	}
	fresh := newNode(t, a, "new-leaf", kernel.RoleLeaf)
	if _, ok := fresh.Key.(ed25519.PrivateKey); !ok {
		t.Fatalf("a node joining a legacy CA got a %T key", fresh.Key)
	}
	v := Verifier{CA: ca.Cert}
	for _, n := range []*Node{old, fresh} {
		if p, err := v.VerifyCert(n.Cert, n.Name); err != nil || p.Name != n.Name {
			t.Fatalf("verify %s: %+v %v", n.Name, p, err)
		}
	}
	// Renewal keeps the legacy key.
	csr, err := NewCSR(old.Key, old.Name)
	if err != nil {
		t.Fatal(err)
	}
	der, err := a.Renew(old.Name, old.Role, csr)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewNode(old.Key, der, ca.Cert.Raw); err != nil {
		t.Fatal(err)
	}
	// A certificate for one key is refused with the other.
	if _, err := NewNode(fresh.Key, old.Cert.Raw, ca.Cert.Raw); err == nil {
		t.Fatal("an Ed25519 key took an ECDSA node's certificate")
	}
}

func TestParseKeyForms(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	rs, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	pkcs8 := func(k any) []byte {
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	}
	sec1, _ := x509.MarshalECPrivateKey(ec)
	for _, c := range []struct {
		name string
		in   []byte
		want crypto.PublicKey
	}{
		{"pkcs8 ed25519", pkcs8(ed), ed.Public()},
		{"pkcs8 ecdsa", pkcs8(ec), ec.Public()},
		{"sec1 ecdsa", pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1}), ec.Public()},
	} {
		k, err := ParseKey(c.in)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if !k.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(c.want) {
			t.Fatalf("%s: another key came back", c.name)
		}
	}
	for _, c := range []struct {
		name string
		in   []byte
		msg  string
	}{
		{"rsa", pkcs8(rs), "want Ed25519 or ECDSA"},
		{"no pem", []byte("not a key"), "no PEM block"},
		{"certificate", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{1}}), `"CERTIFICATE"`},
		{"bad der", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1, 2}}), ""},
	} {
		_, err := ParseKey(c.in)
		if err == nil || !strings.Contains(err.Error(), c.msg) || strings.Contains(err.Error(), "\n") {
			t.Fatalf("%s: error %v, want one line containing %q", c.name, err, c.msg)
		}
	}
}

// TestSignDigest: relayed-join signatures check with the signer's
// certificate key, for both key types, and with no other key.
func TestSignDigest(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	d := sha256.Sum256([]byte("join"))
	other := sha256.Sum256([]byte("other"))
	keys := []crypto.Signer{ec, ed}
	for i, k := range keys {
		sig, err := SignDigest(k, d[:])
		if err != nil {
			t.Fatal(err)
		}
		if !VerifyDigest(k.Public(), d[:], sig) {
			t.Fatalf("%T: own signature refused", k)
		}
		if VerifyDigest(k.Public(), other[:], sig) {
			t.Fatalf("%T: signature checked for another digest", k)
		}
		if VerifyDigest(keys[1-i].Public(), d[:], sig) {
			t.Fatalf("%T: signature checked with another key", k)
		}
	}
	if VerifyDigest(ed25519.PublicKey{1, 2}, d[:], make([]byte, 64)) {
		t.Fatal("short Ed25519 key accepted")
	}
	if _, err := SignDigest(nil, d[:]); err == nil {
		t.Fatal("nil key signed")
	}
}

// TestVerifyCertNil: no certificate is refused, not a panic.
func TestVerifyCertNil(t *testing.T) {
	ca, err := LoadOrCreateCA(t.TempDir(), func() time.Time { return time.Now() })
	if err != nil {
		t.Fatal(err)
	}
	v := Verifier{CA: ca.Cert}
	if _, err := v.VerifyCert(nil, ""); err != ErrNoCertificate {
		t.Fatalf("nil certificate: %v", err)
	}
}

func FuzzParseKey(f *testing.F) {
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(ed)
	f.Add(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	sec1, _ := x509.MarshalECPrivateKey(ec)
	f.Add(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1}))
	f.Add([]byte("-----BEGIN PRIVATE KEY-----\n-----END PRIVATE KEY-----\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		k, err := ParseKey(b)
		if err == nil && k == nil {
			t.Fatal("nil key without error")
		}
		if err != nil && strings.Contains(err.Error(), "\n") {
			t.Fatalf("multi-line error %q", err)
		}
	})
}
