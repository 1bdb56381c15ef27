package identity

import (
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// An entry revoked until its certificate's expiry leaves the list (and
// the file) an hour after it, so the list every gateway fetches does not
// grow for good; one revoked for good stays; the file of older versions
// (a serial per line) still loads, and a damaged one is refused naming
// the line.
func TestRevokeUntilExpiry(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	dir := t.TempDir()
	ca, err := LoadOrCreateCA(dir, clock)
	if err != nil {
		t.Fatal(err)
	}
	if err := ca.RevokeUntil(big.NewInt(0xaa), now.Add(24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := ca.Revoke(big.NewInt(0xbb)); err != nil {
		t.Fatal(err)
	}
	if got := ca.List(); !slices.Equal(got, []string{"aa", "bb"}) || !ca.IsRevoked(big.NewInt(0xaa)) {
		t.Fatalf("list %v", got)
	}
	now = now.Add(24*time.Hour + 30*time.Minute) // expired, within the skew margin
	if got := ca.List(); !slices.Equal(got, []string{"aa", "bb"}) {
		t.Fatalf("list right after the expiry %v", got)
	}
	now = now.Add(time.Hour)
	if got := ca.List(); !slices.Equal(got, []string{"bb"}) || ca.IsRevoked(big.NewInt(0xaa)) {
		t.Fatalf("list after the expiry and margin %v", got)
	}
	again, err := LoadOrCreateCA(dir, clock)
	if err != nil {
		t.Fatal(err)
	}
	if got := again.List(); !slices.Equal(got, []string{"bb"}) {
		t.Fatalf("reloaded list %v", got)
	}
	path := filepath.Join(dir, revokedFile)
	os.WriteFile(path, []byte("cc\ndd\n"), 0o600) // an older version's file
	if old, err := LoadOrCreateCA(dir, clock); err != nil || !slices.Equal(old.List(), []string{"cc", "dd"}) {
		t.Fatalf("older file: %v", err)
	}
	os.WriteFile(path, []byte("cc\ndd tomorrow\n"), 0o600)
	if _, err := LoadOrCreateCA(dir, clock); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("damaged file: %v", err)
	}
}
