package identity

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// A CA's revocation list file of any content loads or is refused with an
// error; one that loads lists, prunes and saves without panicking, and
// reads back.
func FuzzLoadRevoked(f *testing.F) {
	dir := f.TempDir()
	ca, err := LoadOrCreateCA(dir, nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte("aa\nbb 2030-01-01T00:00:00Z\n"))
	f.Add([]byte("cc yesterday\n"))
	f.Add([]byte("\n\n  \t\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		d := t.TempDir()
		if err := os.WriteFile(filepath.Join(d, revokedFile), b, 0o600); err != nil {
			t.Fatal(err)
		}
		c := &CA{Cert: ca.Cert, key: ca.key, dir: d, now: time.Now, revoked: map[string]time.Time{}}
		if err := c.loadRevoked(); err != nil {
			return
		}
		list := c.List()
		c.mu.Lock()
		err := c.saveRevokedLocked()
		c.mu.Unlock()
		if err != nil {
			t.Fatal(err)
		}
		again := &CA{dir: d, now: time.Now, revoked: map[string]time.Time{}}
		if err := again.loadRevoked(); err != nil {
			t.Fatalf("a saved list does not load back: %v", err)
		}
		if got := again.List(); len(got) != len(list) {
			t.Fatalf("saved %d serials, read back %d", len(list), len(got))
		}
	})
}
