package quicnet

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/canopy-fleet/canopy/kernel"
	"github.com/canopy-fleet/canopy/mesh/identity"
)

// writeLegacyKey writes an ECDSA P-256 key as versions before Ed25519 did.
func writeLegacyKey(t *testing.T, path string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalECPrivateKey(key)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestLegacyECDSAIdentitiesLink: in a cluster whose CA and gateway were
// made with ECDSA keys (before Ed25519), a new Ed25519 node joins and links
// with mutual TLS both ways, and the ECDSA gateway still links.
func TestLegacyECDSAIdentitiesLink(t *testing.T) {
	caDir := t.TempDir()
	writeLegacyKey(t, filepath.Join(caDir, "ca.key"))
	ca, err := identity.LoadOrCreateCA(caDir, nil)
	if err != nil {
		t.Fatal(err)
	}
	cl := &cluster{auth: &identity.Authority{CA: ca, Tokens: identity.NewTokens(nil)}}
	gwDir := t.TempDir()
	writeLegacyKey(t, identity.NodeKeyPath(gwDir))
	gwID, err := cl.auth.Issue(gwDir, "gw-1", kernel.RoleGateway)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := gwID.Key.(*ecdsa.PrivateKey); !ok {
		t.Fatalf("legacy gateway key is %T", gwID.Key)
	}
	gw := cl.net(t, gwID)
	l, err := gw.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	echo(t, l)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	tok, err := cl.auth.Tokens.Create(kernel.RoleLeaf, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	leafDir := t.TempDir()
	leafID, err := LoadOrJoin(ctx, leafDir, JoinRequest{Addr: l.Addr(), CAHash: ca.Hash(), Token: tok, Name: "leaf-1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := leafID.Key.(ed25519.PrivateKey); !ok {
		t.Fatalf("joined node key is %T, want Ed25519", leafID.Key)
	}
	c, err := cl.net(t, leafID).Dial(ctx, l.Addr(), "gw-1")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got, err := roundTrip(ctx, c, "mixed"); err != nil || got != "mixed" {
		t.Fatalf("Ed25519 leaf to ECDSA gateway: %q %v", got, err)
	}
	// And the other way: an Ed25519 server, an ECDSA client.
	edGW := cl.net(t, cl.node(t, "gw-2", kernel.RoleGateway))
	l2, err := edGW.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	echo(t, l2)
	c2, err := gw.Dial(ctx, l2.Addr(), "gw-2")
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if got, err := roundTrip(ctx, c2, "back"); err != nil || got != "back" {
		t.Fatalf("ECDSA gateway to Ed25519 gateway: %q %v", got, err)
	}
}
