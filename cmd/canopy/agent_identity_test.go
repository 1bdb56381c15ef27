package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/canopy-fleet/canopy/kernel"
	"github.com/canopy-fleet/canopy/mesh/identity"
)

// An agent whose saved identity cannot be read (here a key file open to
// others) says so with exit 1, rather than asking for first-start flags as
// if it had never joined.
func TestAgentWithUnreadableIdentity(t *testing.T) {
	data := t.TempDir()
	dir := filepath.Join(data, "identity")
	if _, err := identity.LoadOrCreateKey(identity.NodeKeyPath(dir)); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(identity.NodeKeyPath(dir), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := runCLI(t, "agent", "--data", data, "--name", "dev-1")
	if err == nil || exitCodeQuiet(err) != 1 || !strings.Contains(err.Error(), "open to others") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("agent with a key open to others: %v (exit %d), want exit 1 naming the key's mode", err, exitCodeQuiet(err))
	}
}

// --ca-hash takes the hex in either case, as ValidateCAHash does: an
// upper-case copy of the right hash is the same pin, not another cluster.
func TestAgentCAHashCase(t *testing.T) {
	data := t.TempDir()
	ca, err := identity.LoadOrCreateCA(filepath.Join(t.TempDir(), "ca"), nil)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(data, "identity")
	key, err := identity.LoadOrCreateKey(identity.NodeKeyPath(dir))
	if err != nil {
		t.Fatal(err)
	}
	csr, err := identity.NewCSR(key, "dev-1")
	if err != nil {
		t.Fatal(err)
	}
	cert, err := ca.Sign(csr, kernel.RoleLeaf, 0)
	if err != nil {
		t.Fatal(err)
	}
	id, err := identity.NewNode(key, cert, ca.Cert.Raw)
	if err != nil {
		t.Fatal(err)
	}
	if err := id.Save(dir); err != nil {
		t.Fatal(err)
	}
	upper := "sha256:" + strings.ToUpper(strings.TrimPrefix(ca.Hash(), "sha256:"))
	// No --join and none saved: the run stops at that usage error, after
	// the pin was checked.
	_, err = runCLI(t, "agent", "--data", data, "--ca-hash", upper)
	if err == nil || exitCodeQuiet(err) != 2 || !strings.Contains(err.Error(), "--join is required") {
		t.Fatalf("agent with the right CA hash in upper case: %v (exit %d), want the missing --join", err, exitCodeQuiet(err))
	}
}
