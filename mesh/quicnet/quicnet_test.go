package quicnet

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"path/filepath"
	"testing"
	"time"

	"github.com/canopy-fleet/canopy/kernel"
	"github.com/canopy-fleet/canopy/mesh/identity"
	"github.com/canopy-fleet/canopy/mesh/link"
)

type cluster struct {
	auth *identity.Authority
}

func newCluster(t *testing.T) *cluster {
	ca, err := identity.LoadOrCreateCA(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return &cluster{auth: &identity.Authority{CA: ca, Tokens: identity.NewTokens(nil)}}
}

func (c *cluster) node(t *testing.T, name kernel.NodeName, role kernel.Role) *identity.Node {
	t.Helper()
	n, err := c.auth.Issue(t.TempDir(), name, role)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func (c *cluster) net(t *testing.T, id *identity.Node) *Network {
	n, err := New(Config{Identity: id, Revoked: c.auth.CA.IsRevoked, Join: func(_ context.Context, tok string, csr []byte) ([]byte, []byte, error) {
		return c.auth.Join(tok, csr)
	}})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// echo serves one listener: every stream gets its bytes back.
func echo(t *testing.T, l link.Listener) {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() { cancel(); l.Close() })
	go func() {
		for {
			c, err := l.Accept(ctx)
			if err != nil {
				return
			}
			go func() {
				for {
					s, err := c.AcceptStream(ctx)
					if err != nil {
						return
					}
					go func() {
						b, _ := io.ReadAll(s)
						s.Write(b)
						s.CloseWrite()
					}()
				}
			}()
		}
	}()
}

func roundTrip(ctx context.Context, c link.Conn, msg string) (string, error) {
	s, err := c.OpenStream(ctx)
	if err != nil {
		return "", err
	}
	s.Write([]byte(msg))
	s.CloseWrite()
	b, err := io.ReadAll(s)
	return string(b), err
}

func TestMutualTLSAndImpostors(t *testing.T) {
	cl := newCluster(t)
	server := cl.net(t, cl.node(t, "gw-1", kernel.RoleGateway))
	l, err := server.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	echo(t, l)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	leaf := cl.net(t, cl.node(t, "leaf-1", kernel.RoleLeaf))
	c, err := leaf.Dial(ctx, l.Addr(), "gw-1")
	if err != nil {
		t.Fatal(err)
	}
	if p := c.Peer(); p.Name != "gw-1" || p.Role != kernel.RoleGateway || p.Serial == "" {
		t.Fatalf("peer %+v", c.Peer())
	}
	if got, err := roundTrip(ctx, c, "hello"); err != nil || got != "hello" {
		t.Fatalf("echo %q %v", got, err)
	}
	c.Close()

	// The server's certificate must name the node the client expects.
	if _, err := leaf.Dial(ctx, l.Addr(), "gw-2"); err == nil || !errors.Is(err, identity.ErrWrongName) && !bytes.Contains([]byte(err.Error()), []byte("another node")) {
		t.Fatalf("dial expecting another name: %v", err)
	}
	// A node from another cluster is refused.
	other := newCluster(t)
	imp := other.net(t, other.node(t, "leaf-1", kernel.RoleLeaf))
	if c, err := imp.Dial(ctx, l.Addr(), ""); err == nil {
		if _, err := roundTrip(ctx, c, "x"); err == nil {
			t.Fatal("impostor from another CA was served")
		}
	}
	// A revoked certificate is refused.
	revokedID := cl.node(t, "leaf-2", kernel.RoleLeaf)
	cl.auth.CA.Revoke(revokedID.Cert.SerialNumber)
	if c, err := cl.net(t, revokedID).Dial(ctx, l.Addr(), ""); err == nil {
		if _, err := roundTrip(ctx, c, "x"); err == nil {
			t.Fatal("revoked peer was served")
		}
	}
	// An expired certificate is refused (the server's clock is past it).
	late, err := New(Config{Identity: cl.node(t, "gw-9", kernel.RoleGateway), Now: func() time.Time { return time.Now().Add(365 * 24 * time.Hour) }})
	if err != nil {
		t.Fatal(err)
	}
	ll, _ := late.Listen("127.0.0.1:0")
	echo(t, ll)
	if c, err := leaf.Dial(ctx, ll.Addr(), ""); err == nil {
		if _, err := roundTrip(ctx, c, "x"); err == nil {
			t.Fatal("expired client certificate was served")
		}
	}
}

func TestJoin(t *testing.T) {
	cl := newCluster(t)
	server := cl.net(t, cl.node(t, "ctl-1", kernel.RoleController))
	l, _ := server.Listen("127.0.0.1:0")
	echo(t, l)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	key, _ := identity.LoadOrCreateKey(filepath.Join(t.TempDir(), "k"))
	tok, _ := cl.auth.Tokens.Create(kernel.RoleLeaf, time.Minute)
	req := JoinRequest{Addr: l.Addr(), CAHash: cl.auth.CA.Hash(), Token: tok, Name: "leaf-7", Key: key}
	id, err := Join(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if id.Name != "leaf-7" || id.Role != kernel.RoleLeaf {
		t.Fatalf("joined as %s/%s", id.Name, id.Role)
	}
	// The new identity works for mutual TLS.
	c, err := cl.net(t, id).Dial(ctx, l.Addr(), "")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := roundTrip(ctx, c, "hi"); err != nil || got != "hi" {
		t.Fatalf("echo %q %v", got, err)
	}
	// Replay, wrong pin and garbage are refused with a reason.
	if _, err := Join(ctx, req); err == nil || !bytes.Contains([]byte(err.Error()), []byte("already used")) {
		t.Fatalf("replayed token: %v", err)
	}
	other := newCluster(t)
	tok2, _ := cl.auth.Tokens.Create(kernel.RoleLeaf, time.Minute)
	bad := req
	bad.Token, bad.CAHash = tok2, other.auth.CA.Hash()
	if _, err := Join(ctx, bad); err == nil {
		t.Fatal("join with the wrong CA pin succeeded")
	}
	bad.CAHash = "sha256:zz"
	if _, err := Join(ctx, bad); err == nil {
		t.Fatal("malformed pin accepted")
	}
	// The token was not consumed by the failed attempts.
	bad.CAHash = cl.auth.CA.Hash()
	if _, err := Join(ctx, bad); err != nil {
		t.Fatalf("token after failed pins: %v", err)
	}
}

// The first start joins and saves the identity; the next loads it and
// needs no token. A controller bootstraps its own identity from the CA.
func TestLoadOrJoinAndBootstrap(t *testing.T) {
	cl := newCluster(t)
	ctlID, err := cl.auth.Bootstrap(t.TempDir(), "ctl-1")
	if err != nil || ctlID.Role != kernel.RoleController {
		t.Fatalf("bootstrap: %v", err)
	}
	server := cl.net(t, ctlID)
	l, _ := server.Listen("127.0.0.1:0")
	echo(t, l)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	dir := t.TempDir()
	tok, _ := cl.auth.Tokens.Create(kernel.RoleGateway, time.Minute)
	req := JoinRequest{Addr: l.Addr(), CAHash: cl.auth.CA.Hash(), Token: tok, Name: "gw-7"}
	first, err := LoadOrJoin(ctx, dir, req)
	if err != nil || first.Role != kernel.RoleGateway {
		t.Fatalf("first start: %v", err)
	}
	req.Token = "used00.0000000000000000"
	again, err := LoadOrJoin(ctx, dir, req)
	if err != nil || !identity.SameCert(again.Cert, first.Cert) {
		t.Fatalf("restart should load, not join: %v", err)
	}
}

func TestStreamLimitBackPressure(t *testing.T) {
	cl := newCluster(t)
	srv, err := New(Config{Identity: cl.node(t, "gw-1", kernel.RoleGateway), MaxIncomingStreams: 4})
	if err != nil {
		t.Fatal(err)
	}
	l, _ := srv.Listen("127.0.0.1:0")
	defer l.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	go func() {
		c, err := l.Accept(ctx)
		if err != nil {
			return
		}
		<-c.Done() // accepts no streams: the peer's opens must stall
	}()
	c, err := cl.net(t, cl.node(t, "leaf-1", kernel.RoleLeaf)).Dial(ctx, l.Addr(), "")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i := 0; i < 4; i++ {
		s, err := c.OpenStream(ctx)
		if err != nil {
			t.Fatal(err)
		}
		s.Write([]byte("x"))
	}
	short, cancel2 := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel2()
	if _, err := c.OpenStream(short); err == nil {
		t.Fatal("fifth stream opened past a limit of 4")
	}
}

// ClassicalKeyExchange negotiates X25519; the default is the post-quantum
// hybrid, and a classical end still links with a default one.
func TestClassicalKeyExchange(t *testing.T) {
	cl := newCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, c := range []struct {
		server, client bool
		want           tls.CurveID
	}{{false, false, tls.X25519MLKEM768}, {true, true, tls.X25519}, {true, false, tls.X25519}, {false, true, tls.X25519}} {
		lc, err := echoLink(ctx, t, Config{Identity: cl.node(t, "gw-1", kernel.RoleGateway), ClassicalKeyExchange: c.server},
			Config{Identity: cl.node(t, "leaf-1", kernel.RoleLeaf), ClassicalKeyExchange: c.client})
		if err != nil {
			t.Fatalf("server classical %v, client classical %v: %v", c.server, c.client, err)
		}
		if got := lc.(*conn).qc.ConnectionState().TLS.CurveID; got != c.want {
			t.Errorf("server classical %v, client classical %v: key exchange %v, want %v", c.server, c.client, got, c.want)
		}
		if got, err := roundTrip(ctx, lc, "hi"); err != nil || got != "hi" {
			t.Fatalf("echo %q %v", got, err)
		}
		lc.Close()
	}
}

// echoLink starts an echo server on a network made from srv (its identity
// named gw-1) and dials it from one made from cli.
func echoLink(ctx context.Context, t *testing.T, srv, cli Config) (link.Conn, error) {
	t.Helper()
	s, err := New(srv)
	if err != nil {
		t.Fatal(err)
	}
	l, err := s.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	echo(t, l)
	c, err := New(cli)
	if err != nil {
		t.Fatal(err)
	}
	return c.Dial(ctx, l.Addr(), "gw-1")
}
