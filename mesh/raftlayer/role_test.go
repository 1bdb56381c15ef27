package raftlayer

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/canopy-fleet/canopy/kernel"
	"github.com/canopy-fleet/canopy/mesh/identity"
	"github.com/canopy-fleet/canopy/mesh/quicnet"
)

// Raft trusts what it is sent, so the layer speaks it with controllers
// only: a leaf or gateway of the same cluster (a valid certificate from
// its CA) gets no raft connection accepted, and a controller's layer does
// not dial one.
func TestOnlyControllersSpeakRaft(t *testing.T) {
	ca, err := identity.LoadOrCreateCA(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	auth := &identity.Authority{CA: ca, Tokens: identity.NewTokens(nil)}
	network := func(name kernel.NodeName, role kernel.Role) *quicnet.Network {
		t.Helper()
		id, err := auth.Issue(filepath.Join(t.TempDir(), string(name)), name, role)
		if err != nil {
			t.Fatal(err)
		}
		nw, err := quicnet.New(quicnet.Config{Identity: id, Revoked: ca.IsRevoked})
		if err != nil {
			t.Fatal(err)
		}
		return nw
	}
	ctl, err := Listen(network("ctl-0", kernel.RoleController), "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ctl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, role := range []kernel.Role{kernel.RoleLeaf, kernel.RoleGateway} {
		c, err := network("intruder-"+kernel.NodeName(role), role).Dial(ctx, ctl.Addr().String(), "")
		if err != nil {
			t.Fatal(err) // the mesh's TLS lets a cluster member in; the layer decides
		}
		s, err := c.OpenStream(ctx)
		if err == nil {
			s.Write([]byte{0}) // an AppendEntries RPC's type byte
		}
		select {
		case <-c.Done():
		case <-ctx.Done():
			t.Fatalf("a %s's link to the raft layer stayed open", role)
		}
	}
	accepted := make(chan error, 1)
	go func() {
		c, err := ctl.Accept()
		if err == nil {
			c.Close()
		}
		accepted <- err
	}()
	select {
	case err := <-accepted:
		t.Fatalf("the layer accepted a raft connection from a non-controller (%v)", err)
	case <-time.After(200 * time.Millisecond): // nothing to wait for: the links are closed
	}

	// Dialing: a controller's layer refuses to speak raft to a gateway.
	gw, err := Listen(network("gw-1", kernel.RoleGateway), "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer gw.Close()
	if _, err := ctl.Dial(raft.ServerAddress(gw.Addr().String()), 5*time.Second); err == nil {
		t.Fatal("the layer dialed raft to a gateway")
	}
}
