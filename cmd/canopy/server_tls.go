package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/canopy-fleet/canopy/mesh/identity"
)

// apiCertTTL is the lifetime of the API's certificate; a new one is made
// at every start, and again when a third of its lifetime is left
// (apiCerts).
const apiCertTTL = 90 * 24 * time.Hour

// apiCerts is the API's certificate source (tls.Config.GetCertificate): it
// issues the certificate when first asked and issues it again once a third
// of its lifetime is left, so a controller that runs for months never
// serves an expired one. Safe for concurrent use.
type apiCerts struct {
	ca       *identity.CA
	caDir    string
	listen   net.Addr
	nodeName string
	now      func() time.Time

	mu  sync.Mutex
	cur *tls.Certificate
}

// get returns the current certificate, issuing a new one when it is due.
// If issuing fails while the current one is still valid, that one is kept.
func (a *apiCerts) get(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.now()
	if a.cur != nil && now.Before(a.cur.Leaf.NotAfter.Add(-apiCertTTL/3)) {
		return a.cur, nil
	}
	c, err := apiCertificate(a.ca, a.caDir, a.listen, a.nodeName, now)
	if err != nil {
		if a.cur != nil && now.Before(a.cur.Leaf.NotAfter) {
			return a.cur, nil
		}
		return nil, err
	}
	a.cur = &c
	return a.cur, nil
}

// apiCertificate issues the HTTPS certificate of the API, valid from now,
// from the cluster CA (whose key is in caDir), so that clients holding the CA verify it. It
// names localhost, the host name, the node name and the addresses the API
// is reachable at (every interface address when it listens on all). Its
// key stays in memory. It names no node role, so it cannot pass as a mesh
// identity.
func apiCertificate(ca *identity.CA, caDir string, listen net.Addr, nodeName string, now time.Time) (tls.Certificate, error) {
	caKey, err := identity.LoadKey(filepath.Join(caDir, "ca.key"))
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("api certificate: %w", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	dns := []string{"localhost", nodeName}
	if h, err := os.Hostname(); err == nil && h != nodeName {
		dns = append(dns, h)
	}
	ips := []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
	if ta, ok := listen.(*net.TCPAddr); ok && !ta.IP.IsUnspecified() {
		ips = append(ips, ta.IP)
	} else if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			if in, ok := a.(*net.IPNet); ok && !in.IP.IsLoopback() {
				ips = append(ips, in.IP)
			}
		}
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "canopy API " + nodeName},
		DNSNames:     dns,
		IPAddresses:  ips,
		NotBefore:    now.Add(-time.Minute),
		NotAfter:     now.Add(apiCertTTL),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, caKey)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("api certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der, ca.Cert.Raw}, PrivateKey: key, Leaf: leaf}, nil
}
