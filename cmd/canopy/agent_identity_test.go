package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

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
