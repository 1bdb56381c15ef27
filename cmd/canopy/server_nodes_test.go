package main

import (
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/canopy-fleet/canopy/kernel"
	"github.com/canopy-fleet/canopy/mesh/frame"
)

// Only gateways relay joins: a leaf, or a node the controller never
// admitted, that sends one is refused before any token is looked at.
func TestJoinRelayOnlyFromGateways(t *testing.T) {
	reg, err := openNodeRegistry(filepath.Join(t.TempDir(), "nodes.json"), "ctl")
	if err != nil {
		t.Fatal(err)
	}
	if err := reg.joined("leaf-1", kernel.RoleLeaf); err != nil {
		t.Fatal(err)
	}
	c := &controller{log: slog.New(slog.DiscardHandler), nodes: reg}
	body, _ := frame.Marshal(joinRelayMsg{Token: "abcdef.0123456789abcdef", CSR: []byte{1}})
	for _, from := range []kernel.NodeName{"leaf-1", "stranger"} {
		if _, err := c.onJoinRelay(context.Background(), from, body); err == nil || !strings.Contains(err.Error(), "gateways only") {
			t.Errorf("relay from %s: %v", from, err)
		}
	}
	// The registry keeps roles across a restart.
	again, err := openNodeRegistry(reg.path, "ctl")
	if err != nil || again.roleOf("leaf-1") != kernel.RoleLeaf {
		t.Fatalf("after reopening: %q %v", again.roleOf("leaf-1"), err)
	}
}
