package identity

import (
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A node's copy of the revocation list survives a restart: a gateway
// started while its parent is out of reach still refuses the certificates
// revoked before, instead of admitting them until its first refresh.
func TestRevocationsKeptOnDisk(t *testing.T) {
	path := filepath.Join(t.TempDir(), "identity", "revoked")
	r, err := OpenRevocations(path)
	if err != nil {
		t.Fatal(err)
	}
	if added := r.Replace([]string{"1f", "2e"}); len(added) != 2 {
		t.Fatalf("added %v", added)
	}
	r, err = OpenRevocations(path) // a restart
	if err != nil {
		t.Fatal(err)
	}
	if !r.IsRevoked(big.NewInt(0x1f)) || !r.IsRevoked(big.NewInt(0x2e)) || r.IsRevoked(big.NewInt(0x3d)) {
		t.Fatal("the revocation list was not kept across a restart")
	}
	r.Replace([]string{"2e", "NOT A SERIAL"}) // 1f expired and left the root's list; an entry naming no certificate is not kept
	r, err = OpenRevocations(path)
	if err != nil {
		t.Fatal(err)
	}
	if r.IsRevoked(big.NewInt(0x1f)) || !r.IsRevoked(big.NewInt(0x2e)) {
		t.Fatal("the list on disk is not the last one")
	}
	if err := os.WriteFile(path, []byte("2e\nnot-hex\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenRevocations(path); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("a damaged list: %v, want an error naming line 2", err)
	}
}

func FuzzParseRevocations(f *testing.F) {
	f.Add([]byte("1f\n2e\n"))
	f.Add([]byte(""))
	f.Add([]byte("zz\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := parseRevocations(b)
		if err != nil {
			return
		}
		for s := range m {
			if _, ok := new(big.Int).SetString(s, 16); !ok {
				t.Fatalf("accepted serial %q", s)
			}
		}
	})
}
