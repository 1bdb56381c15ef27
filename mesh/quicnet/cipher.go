package quicnet

import (
	"crypto/tls"
	"fmt"
	"slices"
	"sync"
	_ "unsafe" // go:linkname
)

// CipherEnv names the environment variable that sets a canopy process's
// TLS 1.3 cipher preference (see SetCipherPreference).
const CipherEnv = "CANOPY_LINK_CIPHER"

// Cipher preferences accepted by SetCipherPreference.
const (
	// CipherChaCha20 puts ChaCha20-Poly1305 first: the default.
	CipherChaCha20 = "chacha20"
	// CipherAuto keeps crypto/tls's order: AES-GCM first on CPUs with AES
	// instructions, ChaCha20-Poly1305 first on others.
	CipherAuto = "auto"
)

// tls13Suites is crypto/tls's TLS 1.3 suite preference: the order a client
// offers and, when the client prefers AES-GCM, the order a server picks
// in. crypto/tls keeps it linkable (go.dev/issue/67401; quic-go sets it in
// its tests) and has no setting for it (go.dev/issue/29349).
//
//go:linkname tls13Suites crypto/tls.defaultCipherSuitesTLS13
var tls13Suites []uint16

var cipherPref = struct {
	sync.Mutex
	set  bool
	pref string
}{pref: CipherAuto}

// SetCipherPreference sets the TLS 1.3 cipher preference of every TLS
// connection of this process: mesh links, joins and the API's HTTPS
// alike. "" and CipherChaCha20 put ChaCha20-Poly1305 first; CipherAuto
// keeps crypto/tls's order.
//
// ChaCha20-Poly1305 is the default because each link holds several AEADs
// for its life (quic-go's current and next key phase and header
// protection, crypto/tls's unused record layer): an AES-GCM AEAD keeps an
// expanded key schedule and a GCM table, ChaCha20-Poly1305 its 32-byte
// key, so a gateway holds about 9 KiB less per child link
// (docs/BENCHMARKS.md, Mesh). Either end preferring it is enough: a
// server picks it when the client offers it first, and a server that
// prefers it picks it from any client. It is the suite crypto/tls picks
// anyway on CPUs without AES instructions (the Raspberry Pi 4's); on
// CPUs with them it costs more CPU per byte (about 15% of a core more at
// the mesh's blob throughput on the benchmark machine).
//
// crypto/tls reads the preference without a lock, so call this first
// thing in main, before any TLS connection starts; only the first call
// changes anything, later ones report the preference already set, or an
// error if they ask for another one.
func SetCipherPreference(pref string) error {
	if pref == "" {
		pref = CipherChaCha20
	}
	if pref != CipherChaCha20 && pref != CipherAuto {
		return fmt.Errorf("%s=%q: want %q or %q", CipherEnv, pref, CipherChaCha20, CipherAuto)
	}
	cipherPref.Lock()
	defer cipherPref.Unlock()
	if cipherPref.set {
		if pref != cipherPref.pref {
			return fmt.Errorf("%s: the TLS cipher preference is already %q for this process", CipherEnv, cipherPref.pref)
		}
		return nil
	}
	cipherPref.set, cipherPref.pref = true, pref
	if pref == CipherChaCha20 {
		tls13Suites = chachaFirst(tls13Suites)
	}
	return nil
}

// CipherPreference is this process's TLS 1.3 cipher preference:
// CipherAuto until SetCipherPreference sets another.
func CipherPreference() string {
	cipherPref.Lock()
	defer cipherPref.Unlock()
	return cipherPref.pref
}

// chachaFirst is suites with ChaCha20-Poly1305 moved first, the others in
// their order; a new slice, so no reader sees a half-written one.
func chachaFirst(suites []uint16) []uint16 {
	out := []uint16{tls.TLS_CHACHA20_POLY1305_SHA256}
	for _, s := range suites {
		if s != tls.TLS_CHACHA20_POLY1305_SHA256 {
			out = append(out, s)
		}
	}
	return slices.Clip(out)
}
