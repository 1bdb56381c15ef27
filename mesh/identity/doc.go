// Package identity is the cluster's public-key infrastructure: the cluster
// certificate authority (Ed25519, created on the first controller's first
// start and kept on disk with 0600 key files), node key pairs made on the
// device that never leave it (Ed25519; ECDSA P-256 keys and CAs made by
// earlier versions keep working), certificate signing requests that name a node
// and its role, join tokens (short-lived, single-use, revocable), CA hash
// pinning for the first contact, and the certificate checks every mesh link
// runs (chain to the cluster CA, expiry, revocation, expected name).
//
// The CA hash is "sha256:" followed by the lowercase hex SHA-256 of the CA
// certificate's DER-encoded SubjectPublicKeyInfo, the same thing kubeadm's
// --discovery-token-ca-cert-hash pins, so it survives re-issuing the CA
// certificate with the same key.
package identity
