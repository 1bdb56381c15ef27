package main

import (
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"path/filepath"
	"testing"
	"time"

	"github.com/canopy-fleet/canopy/kernel"
	"github.com/canopy-fleet/canopy/mesh/frame"
)

// Once deletion has read a node's certificates (deleting), it gets no new one (a
// renewal whose check of the old certificate passed just before the
// revocation would hand it an unrevoked one and bring it back), and a
// status report still on its way does not make it a node again; a join
// with a new token (admit) does.
func TestDeletedNodeStaysDeleted(t *testing.T) {
	r, err := openNodeRegistry(filepath.Join(t.TempDir(), "nodes.json"), "ctl")
	if err != nil {
		t.Fatal(err)
	}
	cert := func(serial int64) *x509.Certificate {
		return &x509.Certificate{SerialNumber: big.NewInt(serial), NotAfter: time.Now().Add(time.Hour),
			Subject: pkix.Name{CommonName: "pi-1", OrganizationalUnit: []string{string(kernel.RoleLeaf)}}}
	}
	if err := r.joined("pi-1", kernel.RoleLeaf, "sha256:k1"); err != nil {
		t.Fatal(err)
	}
	if err := r.issued(cert(0x2b)); err != nil {
		t.Fatal(err)
	}
	if _, known := r.deleting("pi-1"); !known {
		t.Fatal("pi-1 unknown")
	}
	if err := r.issued(cert(0x3c)); err == nil {
		t.Fatal("a renewal signed while pi-1 was being deleted was recorded and handed out (it is not revoked)")
	}
	if err := r.forget("pi-1"); err != nil {
		t.Fatal(err)
	}
	if err := r.issued(cert(0x4d)); err == nil {
		t.Fatal("a renewal signed after pi-1 was deleted was recorded and handed out")
	}
	b, err := frame.Marshal(nodeStatus{Parent: "gw-1", Labels: map[string]string{"a": "b"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.onStatus(context.Background(), "pi-1", b); err != nil {
		t.Fatal(err)
	}
	if _, known := r.liveCerts("pi-1"); known {
		t.Fatal("a status report sent before the deletion brought pi-1 back")
	}
	r.close()
	if err := r.admit("pi-1", "sha256:k2"); err != nil {
		t.Fatalf("pi-1's name not free: %v", err)
	}
	if err := r.issued(cert(0x5e)); err != nil {
		t.Fatalf("a new join in the deleted name: %v", err)
	}
}
