package main

import (
	"crypto/x509"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/canopy-fleet/canopy/mesh/identity"
)

// The API's certificate is issued again once a third of its lifetime is
// left: a controller running longer than apiCertTTL never serves an
// expired one, and every certificate verifies against the cluster CA.
func TestAPICertificateRenewed(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ca")
	ca, err := identity.LoadOrCreateCA(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	certs := &apiCerts{ca: ca, caDir: dir, listen: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 7070}, nodeName: "ctl", now: func() time.Time { return now }}
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	serve := func() *x509.Certificate {
		t.Helper()
		c, err := certs.get(nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: "localhost", CurrentTime: now}); err != nil {
			t.Fatalf("served at %s: %v", now.Format(time.DateOnly), err)
		}
		return c.Leaf
	}
	first := serve()
	now = now.Add(apiCertTTL / 2)
	if serve() != first {
		t.Fatal("reissued with half its lifetime left")
	}
	for range 4 { // a year, checked every 30 days
		now = now.Add(30 * 24 * time.Hour)
		serve()
	}
	if serve() == first {
		t.Fatal("never reissued")
	}
}
