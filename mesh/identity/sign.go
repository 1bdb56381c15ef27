package identity

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
)

// SignDigest signs a SHA-256 digest with a node key: an Ed25519 signature
// over the digest's bytes, or an ASN.1 ECDSA signature of the digest.
func SignDigest(key crypto.Signer, digest []byte) ([]byte, error) {
	switch k := key.(type) {
	case ed25519.PrivateKey:
		return ed25519.Sign(k, digest), nil
	case *ecdsa.PrivateKey:
		return ecdsa.SignASN1(rand.Reader, k, digest)
	case nil:
		return nil, errors.New("sign: no key")
	}
	return nil, fmt.Errorf("sign: key of type %T: want Ed25519 or ECDSA", key)
}

// VerifyDigest checks a signature made by SignDigest with the private key of
// pub (a certificate's public key).
func VerifyDigest(pub crypto.PublicKey, digest, sig []byte) bool {
	switch p := pub.(type) {
	case ed25519.PublicKey:
		return len(p) == ed25519.PublicKeySize && ed25519.Verify(p, digest, sig)
	case *ecdsa.PublicKey:
		return ecdsa.VerifyASN1(p, digest, sig)
	}
	return false
}
