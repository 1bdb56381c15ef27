package main

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/canopy-fleet/canopy/kernel/api"
)

// Revocation as an operator does it, through the CLI on a real fleet on
// loopback: tokens listed without secrets and revoked (a revoked join
// token joins nothing, a revoked API token is refused at once), and nodes
// deleted: a leaf under a gateway loses its link at once and is refused
// from then on, its name is free for a new device, and the controller
// itself cannot be deleted.
func TestRevokeThroughCLI(t *testing.T) {
	checkNoLeaks(t)
	dir := startTestController(t)
	gwTok := createToken(t, "--role", "gateway")
	startProc(t, "gateway", agentArgs(t, gwTok, "--listen", "127.0.0.1:0", "--name", "gw-1", "--data", filepath.Join(dir, "gw"))...)
	gw := nodeIs(t, "gw-1", "gateway", "ctl", api.StateLinked)
	leafTok := createToken(t, "--role", "agent")
	leaf := startProc(t, "leaf-1", "agent", "--join", gw.Addr, "--token", leafTok.Token, "--ca-hash", leafTok.Join.CAHash, "--name", "leaf-1", "--data", filepath.Join(dir, "leaf-1"))
	nodeIs(t, "leaf-1", "leaf", "gw-1", api.StateLinked)

	t.Run("tokens listed without secrets", func(t *testing.T) {
		out, err := runCLI(t, "token", "list")
		if err != nil {
			t.Fatal(err)
		}
		id, secret, _ := strings.Cut(leafTok.Token, ".")
		if !strings.Contains(out, id) || strings.Contains(out, secret) {
			t.Fatalf("token list:\n%s", out)
		}
		for _, line := range strings.Split(out, "\n") {
			if strings.HasPrefix(line, id) && !strings.Contains(line, "used") {
				t.Fatalf("the joined leaf's token is not listed as used: %q", line)
			}
		}
	})
	t.Run("revoked join token", func(t *testing.T) {
		tok := createToken(t, "--role", "agent")
		if _, err := runCLI(t, "token", "revoke", tok.Token); err != nil { // a whole token: its id is sent
			t.Fatal(err)
		}
		_, err := runCLI(t, agentArgs(t, tok, "--name", "leaf-5", "--data", filepath.Join(dir, "leaf-5"))...)
		wantErr(t, err, 1, "token revoked")
	})
	t.Run("revoked API token", func(t *testing.T) {
		tok := createToken(t, "--role", "viewer")
		if _, err := runCLI(t, "get", "nodes", "--token", tok.Token); err != nil {
			t.Fatal(err)
		}
		id, _, _ := strings.Cut(tok.Token, ".")
		if _, err := runCLI(t, "token", "revoke", id); err != nil {
			t.Fatal(err)
		}
		_, err := runCLI(t, "get", "nodes", "--token", tok.Token)
		wantErr(t, err, 1, "token revoked")
		_, err = runCLI(t, "token", "revoke", "zzzzzz")
		wantErr(t, err, 1, "no token zzzzzz")
		_, err = runCLI(t, "token", "revoke", "NOPE")
		wantErr(t, err, 2, "not a token id")
	})
	t.Run("deleted leaf", func(t *testing.T) {
		out, err := runCLI(t, "delete", "node", "leaf-1")
		if err != nil || !strings.Contains(out, "node leaf-1 deleted (1 certificate revoked)") {
			t.Fatalf("delete printed %q, %v", out, err)
		}
		eventually(t, "leaf-1 gone", func() error {
			if n, ok := listNodes(t)["leaf-1"]; ok {
				return fmt.Errorf("still listed: %+v", n)
			}
			return nil
		})
		// Its agent keeps trying; the gateway refuses every try.
		eventually(t, "the gateway refuses the deleted leaf", func() error {
			if !strings.Contains(leaf.log.String(), "bad certificate") {
				return errors.New("no refusal in the leaf's log yet")
			}
			return nil
		})
		if _, ok := listNodes(t)["leaf-1"]; ok {
			t.Fatal("the deleted leaf linked again")
		}
		leaf.stop(t)
		// The name is free: another device (a new key) joins as leaf-1.
		tok := createToken(t, "--role", "agent")
		p := startProc(t, "leaf-1-new", "agent", "--join", gw.Addr, "--token", tok.Token, "--ca-hash", tok.Join.CAHash, "--name", "leaf-1", "--data", filepath.Join(dir, "leaf-1-new"))
		nodeIs(t, "leaf-1", "leaf", "gw-1", api.StateLinked)
		p.stop(t)
	})
	t.Run("refused deletions", func(t *testing.T) {
		_, err := runCLI(t, "delete", "node", "ctl")
		wantErr(t, err, 1, "ctl is the controller; it cannot be deleted")
		_, err = runCLI(t, "delete", "node", "pi-404")
		wantErr(t, err, 1, `no node "pi-404"`)
		_, err = runCLI(t, "delete", "node", "Bad_Name")
		wantErr(t, err, 2, "not a node name")
		_, err = runCLI(t, "delete", "pods", "x")
		wantErr(t, err, 2, "unknown resource")
		viewer := createToken(t, "--role", "viewer")
		_, err = runCLI(t, "delete", "node", "gw-1", "--token", viewer.Token)
		wantErr(t, err, 1, "needs operator")
	})
}
