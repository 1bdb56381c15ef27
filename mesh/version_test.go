package mesh

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/canopy-fleet/canopy/kernel"
	"github.com/canopy-fleet/canopy/mesh/frame"
	"github.com/canopy-fleet/canopy/mesh/memnet"
)

// A child checks the version in its parent's hello reply too: a parent of
// another protocol version is not linked to, and the error says why.
func TestChildRefusesParentOfAnotherVersion(t *testing.T) {
	f := memnet.NewFabric()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ln, err := f.Endpoint("ctl", kernel.RoleController).Listen("mem:ctl")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() { // an old parent: it answers every hello with version 1
		c, err := ln.Accept(ctx)
		if err != nil {
			return
		}
		defer c.Close()
		s, err := c.AcceptStream(ctx)
		if err != nil {
			return
		}
		frame.Read(s, 1<<20)
		s.Write(encode(tHelloAck, helloAck{Version: 1}))
		s.CloseWrite()
		<-ctx.Done()
	}()
	n, err := New(Config{Name: "leaf", Role: kernel.RoleLeaf, Network: f.Endpoint("leaf", kernel.RoleLeaf), Parents: []Parent{{Addr: "mem:ctl"}}})
	if err != nil {
		t.Fatal(err)
	}
	n.ctx = ctx // dialParent alone, without the node's loops
	_, err = n.dialParent(Parent{Addr: "mem:ctl"})
	if err == nil || !strings.Contains(err.Error(), "protocol version 1") {
		t.Fatalf("linked to a parent of version 1: %v", err)
	}
}
