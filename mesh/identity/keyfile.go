package identity

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// LoadOrCreateKey reads the private key at path (see LoadKey), or creates
// an Ed25519 key and writes it (PKCS#8, mode 0600) when the file does not
// exist. A key file that exists but is readable by group or others is
// refused.
//
// New keys are Ed25519 rather than ECDSA P-256: a certificate with an
// Ed25519 key, and the handshake signatures made with it, are smaller, and
// every link keeps its peer's parsed certificate (docs/BENCHMARKS.md, Mesh).
func LoadOrCreateKey(path string) (crypto.Signer, error) {
	key, err := LoadKey(path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return key, err
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, fmt.Errorf("marshal key: %w", err)
	}
	if err := writeFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		return nil, err
	}
	return priv, nil
}

// LoadKey reads a private key: a PKCS#8 "PRIVATE KEY" block holding an
// Ed25519 or ECDSA key (what LoadOrCreateKey writes now), or an
// "EC PRIVATE KEY" block (SEC 1 ECDSA, what it wrote before Ed25519), so
// identities and CAs made by earlier versions keep working.
func LoadKey(path string) (crypto.Signer, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("key %s: %w", path, err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("key %s: mode %v is open to others, want 0600", path, st.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("key %s: %w", path, err)
	}
	key, err := ParseKey(b)
	if err != nil {
		return nil, fmt.Errorf("key %s: %w", path, err)
	}
	return key, nil
}

// ParseKey decodes a PEM private key as LoadKey reads it: PKCS#8 Ed25519 or
// ECDSA, or SEC 1 ECDSA.
func ParseKey(b []byte) (crypto.Signer, error) {
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, errors.New("no PEM block (want PRIVATE KEY or EC PRIVATE KEY)")
	}
	switch blk.Type {
	case "EC PRIVATE KEY":
		key, err := x509.ParseECPrivateKey(blk.Bytes)
		if err != nil {
			return nil, err
		}
		return key, nil
	case "PRIVATE KEY":
		k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
		if err != nil {
			return nil, err
		}
		switch k := k.(type) {
		case ed25519.PrivateKey:
			return k, nil
		case *ecdsa.PrivateKey:
			return k, nil
		default:
			return nil, fmt.Errorf("private key of type %T: want Ed25519 or ECDSA", k)
		}
	}
	return nil, fmt.Errorf("pem block %q: want PRIVATE KEY or EC PRIVATE KEY", blk.Type)
}

// EncodeCert returns the PEM encoding of a DER certificate.
func EncodeCert(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// DecodeCert parses one PEM or DER certificate.
func DecodeCert(b []byte) (*x509.Certificate, error) {
	if blk, _ := pem.Decode(b); blk != nil {
		if blk.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("pem block %q is not a CERTIFICATE", blk.Type)
		}
		b = blk.Bytes
	}
	c, err := x509.ParseCertificate(b)
	if err != nil {
		return nil, fmt.Errorf("parse certificate: %w", err)
	}
	return c, nil
}
