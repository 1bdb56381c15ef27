package identity

import (
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
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

// The list is checked on every handshake: a Replace writing its file
// (synced, slow on a device's flash) does not hold those checks, which
// see the new list at once.
func TestRevocationsCheckedWhileWritten(t *testing.T) {
	writing, release := make(chan struct{}), make(chan struct{})
	old := writeRevocations
	writeRevocations = func(path string, b []byte, mode os.FileMode) error {
		close(writing)
		<-release
		return old(path, b, mode)
	}
	defer func() { writeRevocations = old }()
	r, err := OpenRevocations(filepath.Join(t.TempDir(), "revoked"))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.Replace([]string{"1f"})
	}()
	<-writing
	checked := make(chan bool)
	go func() { checked <- r.IsRevoked(big.NewInt(0x1f)) }()
	select {
	case revoked := <-checked:
		if !revoked {
			t.Error("the new list is not checked while its file is written")
		}
	case <-done:
		t.Fatal("Replace ended before its write was released")
	case <-time.After(10 * time.Second):
		t.Error("IsRevoked waited for the list's file to be written")
	}
	close(release)
	<-done
}
