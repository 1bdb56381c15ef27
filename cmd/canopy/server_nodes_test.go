package main

import (
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/canopy-fleet/canopy/kernel"
	"github.com/canopy-fleet/canopy/mesh/identity"
)

// The controller's authority redeems tokens from the durable store and
// records every node it signs for: a join consumes its token on disk (a
// reopened store still refuses it) and lists the node with its role, also
// after the registry is reopened. Relayed joins reach the same authority
// through mesh.Node.ServeIdentity, which takes them from gateways only
// (mesh's TestRelayedJoinOnlyFromGateways).
func TestControllerJoinUsesDurableTokens(t *testing.T) {
	dir := t.TempDir()
	ca, err := identity.LoadOrCreateCA(filepath.Join(dir, "ca"), nil)
	if err != nil {
		t.Fatal(err)
	}
	tokens, err := openTokenStore(filepath.Join(dir, "tokens.json"), nil)
	if err != nil {
		t.Fatal(err)
	}
	reg, err := openNodeRegistry(filepath.Join(dir, "nodes.json"), "ctl")
	if err != nil {
		t.Fatal(err)
	}
	c := &controller{log: slog.New(slog.DiscardHandler), ca: ca, tokens: tokens, nodes: reg}
	c.auth = &identity.Authority{CA: ca, Tokens: tokens, Admit: c.admit, OnJoin: c.joined}

	if _, err := tokens.Create(kernel.RoleController, 0); err == nil {
		t.Fatal("a controller join token was issued")
	}
	tok, err := c.auth.Tokens.Create(kernel.RoleGateway, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	key, err := identity.LoadOrCreateKey(filepath.Join(dir, "gw.key"))
	if err != nil {
		t.Fatal(err)
	}
	csr, _ := identity.NewCSR(key, "gw-1")
	cert, caDER, err := c.join(t.Context(), tok, csr)
	if err != nil {
		t.Fatal(err)
	}
	if id, err := identity.NewNode(key, cert, caDER); err != nil || id.Role != kernel.RoleGateway {
		t.Fatalf("joined %+v, %v", id, err)
	}

	reopened, err := openTokenStore(filepath.Join(dir, "tokens.json"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reopened.Redeem(tok); !errors.Is(err, identity.ErrTokenUsed) {
		t.Fatalf("token after a restart: %v", err)
	}
	if _, _, err := c.join(t.Context(), tok, csr); !errors.Is(err, identity.ErrTokenUsed) {
		t.Fatalf("replayed token: %v", err)
	}
	again, err := openNodeRegistry(reg.path, "ctl")
	if err != nil {
		t.Fatal(err)
	}
	if rec := again.m["gw-1"]; rec == nil || rec.Role != kernel.RoleGateway || len(again.m) != 1 {
		t.Fatalf("node list after reopening: %v", again.m)
	}

	// One name, one device: another key under gw-1, or the controller's
	// own name, is refused without using the token; the same key may join
	// again (a certificate that expired offline).
	tok2, err := c.auth.Tokens.Create(kernel.RoleLeaf, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	other, err := identity.LoadOrCreateKey(filepath.Join(dir, "other.key"))
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[kernel.NodeName]string{
		"gw-1": `node name "gw-1" is taken by another device (joined `,
		"ctl":  `node name "ctl" is the controller's: start the device with another --name`,
	} {
		csr, _ := identity.NewCSR(other, name)
		if _, _, err := c.join(t.Context(), tok2, csr); err == nil || !strings.HasPrefix(err.Error(), want) || strings.Contains(err.Error(), "\n") {
			t.Fatalf("join as %s with another key: %v", name, err)
		}
	}
	csr, _ = identity.NewCSR(key, "gw-1")
	if _, _, err := c.join(t.Context(), tok2, csr); err != nil {
		t.Fatalf("the same device joining again (its token unused by the refusals): %v", err)
	}
}
