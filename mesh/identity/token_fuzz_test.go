package identity

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/canopy-fleet/canopy/kernel"
)

// A tokens file of any content opens or is refused with an error; one that
// opens keeps working: a token issued into it survives a reopen.
func FuzzOpenTokens(f *testing.F) {
	f.Add([]byte(`{"tokens":[{"id":"abcdef","sha256":"0000000000000000000000000000000000000000000000000000000000000000","role":"agent","expires":"2030-01-01T00:00:00Z"}]}`))
	f.Add([]byte(`{"tokens":[null]}`))
	f.Add([]byte(`{"tokens":[{"id":"","sha256":"zz"}]}`))
	f.Add([]byte(`[]`))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		path := filepath.Join(t.TempDir(), "tokens.json")
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		ts, err := OpenTokens(path, nil)
		if err != nil {
			return
		}
		tok, err := ts.Create(kernel.RoleLeaf, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		again, err := OpenTokens(path, nil)
		if err != nil {
			t.Fatalf("reopen after a save: %v", err)
		}
		if _, err := again.Redeem(tok); err != nil {
			t.Fatalf("token issued before the reopen: %v", err)
		}
	})
}
