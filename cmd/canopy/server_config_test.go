package main

import (
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/canopy-fleet/canopy/kernel"
	"github.com/canopy-fleet/canopy/mesh/identity"
)

// testController is a controller with a CA and a token store in dir,
// enough to write client configs.
func testController(t *testing.T, dir string, name kernel.NodeName) *controller {
	t.Helper()
	ca, err := identity.LoadOrCreateCA(filepath.Join(dir, "ca"), nil)
	if err != nil {
		t.Fatal(err)
	}
	tokens, err := openTokenStore(filepath.Join(dir, "tokens.json"), nil)
	if err != nil {
		t.Fatal(err)
	}
	return &controller{log: slog.New(slog.DiscardHandler), ca: ca, tokens: tokens, identity: &identity.Node{Name: name}}
}

// The client config is one cluster's: a second controller (another CA)
// does not overwrite it but writes its own beside it; the same cluster
// moved to another API address keeps its admin token.
func TestClientConfigOfAnotherCluster(t *testing.T) {
	cfgPath := filepath.Join(t.TempDir(), "config.yaml")
	t.Setenv("CANOPY_CONFIG", cfgPath)
	a := testController(t, t.TempDir(), "ctl-a")
	if p, err := a.writeClientConfig("https://127.0.0.1:7070"); err != nil || p != cfgPath {
		t.Fatalf("first config: %s %v", p, err)
	}
	first, err := loadClientConfig(cfgPath)
	if err != nil {
		t.Fatal(err)
	}

	b := testController(t, t.TempDir(), "ctl-b")
	p, err := b.writeClientConfig("https://127.0.0.1:7071")
	if want := filepath.Join(filepath.Dir(cfgPath), "config.ctl-b.yaml"); err != nil || p != want {
		t.Fatalf("another cluster's config: %s %v, want %s", p, err, want)
	}
	if kept, err := loadClientConfig(cfgPath); err != nil || *kept != *first {
		t.Fatalf("the first cluster's config was changed: %+v %v", kept, err)
	}
	if other, err := loadClientConfig(p); err != nil || other.CAHash != b.ca.Hash() || other.Server != "https://127.0.0.1:7071" {
		t.Fatalf("second cluster's config: %+v %v", other, err)
	}

	if p, err := a.writeClientConfig("https://10.0.0.5:7070"); err != nil || p != cfgPath {
		t.Fatalf("moved API: %s %v", p, err)
	}
	moved, err := loadClientConfig(cfgPath)
	if err != nil || moved.Server != "https://10.0.0.5:7070" || moved.Token != first.Token {
		t.Fatalf("moved API: %+v %v (token kept: %v)", moved, err, moved != nil && moved.Token == first.Token)
	}
}
