package mesh

import (
	"context"
	"errors"
	"io"
	"os"
	"testing"
	"time"

	"github.com/canopy-fleet/canopy/kernel"
	"github.com/canopy-fleet/canopy/mesh/link"
	"github.com/canopy-fleet/canopy/mesh/memnet"
	"github.com/canopy-fleet/canopy/mesh/quicnet"
)

// linkContract checks what the mesh relies on from any link.Network: the
// peer's proven name, echo over half-closed streams, deadlines, refusal of
// an unexpected name, and Done after Close.
func linkContract(t *testing.T, server, client link.Network, listenAddr string) {
	ln, err := server.Listen(listenAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	accepted := make(chan link.Conn, 4)
	go func() {
		for {
			c, err := ln.Accept(ctx)
			if err != nil {
				return
			}
			accepted <- c
			go func() {
				for {
					s, err := c.AcceptStream(ctx)
					if err != nil {
						return
					}
					go func() {
						b, _ := io.ReadAll(s)
						if string(b) == "hang" {
							return // never answers: the client's deadline must fire
						}
						s.Write(b)
						s.CloseWrite()
					}()
				}
			}()
		}
	}()
	c, err := client.Dial(ctx, ln.Addr(), "srv")
	if err != nil {
		t.Fatal(err)
	}
	if c.Peer().Name != "srv" {
		t.Fatalf("client sees peer %q", c.Peer().Name)
	}
	sc := <-accepted
	if sc.Peer().Name != "cli" {
		t.Fatalf("server sees peer %q", sc.Peer().Name)
	}
	s, err := c.OpenStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s.Write([]byte("hello"))
	s.CloseWrite()
	if b, err := io.ReadAll(s); err != nil || string(b) != "hello" {
		t.Fatalf("echo %q %v", b, err)
	}
	s, _ = c.OpenStream(ctx)
	s.Write([]byte("hang"))
	s.CloseWrite()
	s.SetDeadline(time.Now().Add(100 * time.Millisecond))
	if _, err := s.Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read past deadline: %v", err)
	}
	s.Abort()
	if _, err := client.Dial(ctx, ln.Addr(), "someone-else"); err == nil {
		t.Fatal("dial accepted a peer with an unexpected name")
	}
	c.Close()
	select {
	case <-c.Done():
	case <-ctx.Done():
		t.Fatal("Done not closed after Close")
	}
	select {
	case <-sc.Done():
	case <-ctx.Done():
		t.Fatal("the server's end did not see the close")
	}
}

func TestLinkContract(t *testing.T) {
	t.Run("memnet", func(t *testing.T) {
		f := memnet.NewFabric()
		linkContract(t, f.Endpoint("srv", kernel.RoleGateway), f.Endpoint("cli", kernel.RoleLeaf), "mem:srv")
	})
	t.Run("quicnet", func(t *testing.T) {
		ca := newTestCA(t)
		mk := func(name kernel.NodeName, role kernel.Role) link.Network {
			n, err := quicnet.New(quicnet.Config{Identity: ca.identity(t, name, role)})
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
		linkContract(t, mk("srv", kernel.RoleGateway), mk("cli", kernel.RoleLeaf), "127.0.0.1:0")
	})
}
