package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/pprof"
	"strings"
	"testing"
	"time"

	"github.com/canopy-fleet/canopy/kernel"
	"github.com/canopy-fleet/canopy/kernel/api"
	"github.com/canopy-fleet/canopy/mesh/identity"
)

// proc is a long-running command (server, agent) run in-process.
type proc struct {
	name     string
	cancel   context.CancelFunc
	done     chan error
	out, log *syncBuffer
}

func startProc(t *testing.T, name string, args ...string) *proc {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	p := &proc{name: name, cancel: cancel, done: make(chan error, 1), out: &syncBuffer{}, log: &syncBuffer{}}
	root := newRootCmd(p.out, p.log)
	root.SetArgs(args)
	go func() { p.done <- root.ExecuteContext(ctx) }()
	t.Cleanup(func() { p.stop(t) })
	return p
}

// stop cancels the command (as Ctrl-C does) and checks it ended cleanly.
func (p *proc) stop(t *testing.T) {
	t.Helper()
	if p.cancel == nil {
		return
	}
	p.cancel()
	p.cancel = nil
	select {
	case err := <-p.done:
		if err != nil {
			t.Errorf("%s ended with %v (exit %d); log:\n%s", p.name, err, exitCodeQuiet(err), p.log)
		}
	case <-time.After(time.Minute):
		t.Errorf("%s did not stop; log:\n%s", p.name, p.log)
	}
}

// runCLI runs a command to its end and returns its stdout and error.
func runCLI(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, log syncBuffer
	root := newRootCmd(&out, &log)
	root.SetArgs(args)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	err := root.ExecuteContext(ctx)
	if err != nil {
		t.Logf("canopy %s: %v (exit %d)", strings.Join(args, " "), err, exitCodeQuiet(err))
	}
	return out.String(), err
}

// eventually polls f until it returns nil, failing after a generous
// deadline with f's last error.
func eventually(t *testing.T, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// joinToken is what `token create -o json` prints.
type joinToken struct {
	Token       string        `json:"token"`
	Role        string        `json:"role"`
	Join        *api.JoinInfo `json:"join"`
	JoinCommand string        `json:"joinCommand"`
}

func createToken(t *testing.T, args ...string) joinToken {
	t.Helper()
	out, err := runCLI(t, append([]string{"token", "create", "-o", "json"}, args...)...)
	if err != nil {
		t.Fatal(err)
	}
	var tok joinToken
	if err := json.Unmarshal([]byte(out), &tok); err != nil {
		t.Fatalf("token create -o json printed %q: %v", out, err)
	}
	return tok
}

// agentArgs turns a printed join command into agent arguments.
func agentArgs(t *testing.T, tok joinToken, extra ...string) []string {
	t.Helper()
	f := strings.Fields(tok.JoinCommand)
	if len(f) < 8 || f[0] != "canopy" || f[1] != "agent" {
		t.Fatalf("join command %q", tok.JoinCommand)
	}
	return append(f[1:], extra...)
}

func listNodes(t *testing.T) map[string]api.Node {
	t.Helper()
	c, err := (&clientFlags{}).client()
	if err != nil {
		t.Fatal(err)
	}
	defer c.http.CloseIdleConnections()
	var list api.NodeList
	if err := c.do(context.Background(), http.MethodGet, "/api/v1/nodes", nil, &list); err != nil {
		t.Fatal(err)
	}
	out := map[string]api.Node{}
	for _, n := range list.Nodes {
		out[n.Name] = n
	}
	return out
}

// nodeIs waits until the controller lists name with the role, parent and state.
func nodeIs(t *testing.T, name, role, parent, state string) api.Node {
	t.Helper()
	var got api.Node
	eventually(t, fmt.Sprintf("%s listed as %s under %s, %s", name, role, parent, state), func() error {
		n, ok := listNodes(t)[name]
		if !ok || n.Role != role || n.Parent != parent || n.State != state {
			return fmt.Errorf("listed as %+v (present %v)", n, ok)
		}
		got = n
		return nil
	})
	return got
}

// startTestController runs `canopy server` (node ctl, loopback, ports
// chosen by the system) in a temporary directory, points the client
// commands at the config file it writes, and waits for that file. It
// returns the directory.
func startTestController(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "config.yaml")
	t.Setenv("CANOPY_CONFIG", cfgPath)
	t.Setenv("CANOPY_SERVER", "")
	t.Setenv("CANOPY_TOKEN", "")
	startProc(t, "server", "server", "--data", filepath.Join(dir, "ctl"), "--name", "ctl", "--listen", "127.0.0.1:0", "--http", "127.0.0.1:0")
	eventually(t, "client config written", func() error {
		c, err := loadClientConfig(cfgPath)
		if err == nil && (c.Server == "" || c.Token == "") {
			err = errors.New("not yet")
		}
		return err
	})
	return dir
}

// checkNoLeaks fails the test if goroutines started during it outlive it.
func checkNoLeaks(t *testing.T) {
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(30 * time.Second)
		for runtime.NumGoroutine() > before {
			if time.Now().After(deadline) {
				var b strings.Builder
				pprof.Lookup("goroutine").WriteTo(&b, 1)
				t.Errorf("%d goroutines before, %d after:\n%s", before, runtime.NumGoroutine(), b.String())
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
}

func wantErr(t *testing.T, err error, code int, substr string) {
	t.Helper()
	if err == nil || exitCodeQuiet(err) != code || !strings.Contains(err.Error(), substr) || strings.Contains(err.Error(), "\n") {
		t.Fatalf("got %v (exit %d), want exit %d with one line containing %q", err, exitCodeQuiet(err), code, substr)
	}
}

// A real fleet on loopback, driven through the CLI as a user would: a
// controller, a gateway and leaves joining with tokens and the CA pin, the
// refusals, and restarts that keep identities.
func TestFleetThroughCLI(t *testing.T) {
	checkNoLeaks(t) // registered first, so it runs after every command has stopped
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "config.yaml")
	t.Setenv("CANOPY_CONFIG", cfgPath)
	t.Setenv("CANOPY_SERVER", "")
	t.Setenv("CANOPY_TOKEN", "")
	serverArgs := []string{"server", "--data", filepath.Join(dir, "ctl"), "--name", "ctl", "--listen", "127.0.0.1:0", "--http", "127.0.0.1:0", "--log-level", "debug"}
	ctl := startProc(t, "server", serverArgs...)
	var caHash string
	eventually(t, "client config written", func() error {
		c, err := loadClientConfig(cfgPath)
		if err == nil && (c.Server == "" || c.Token == "") {
			err = errors.New("not yet")
		}
		if err != nil {
			return err
		}
		caHash = c.CAHash
		return nil
	})
	if st, err := os.Stat(cfgPath); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("client config: %v %v", st, err)
	}
	nodeIs(t, "ctl", "controller", "", api.StateLinked)

	// A gateway joins the controller with the printed command.
	gwTok := createToken(t, "--role", "gateway")
	if gwTok.Join == nil || gwTok.Join.CAHash != caHash || !strings.HasSuffix(gwTok.JoinCommand, "--gateway") {
		t.Fatalf("gateway token %+v", gwTok)
	}
	gwDir := filepath.Join(dir, "gw")
	startProc(t, "gateway", agentArgs(t, gwTok, "--listen", "127.0.0.1:0", "--name", "gw-1", "--data", gwDir, "--labels", "site=plant-1")...)
	gw := nodeIs(t, "gw-1", "gateway", "ctl", api.StateLinked)
	if gw.Addr == "" || gw.Labels["site"] != "plant-1" {
		t.Fatalf("gateway listed as %+v", gw)
	}

	// A leaf joins through the gateway (the join is relayed to the controller).
	leafTok := createToken(t, "--role", "agent")
	leafDir := filepath.Join(dir, "leaf-1")
	leafArgs := []string{"agent", "--join", gw.Addr, "--token", leafTok.Token, "--ca-hash", leafTok.Join.CAHash, "--name", "leaf-1", "--data", leafDir}
	leaf := startProc(t, "leaf-1", leafArgs...)
	nodeIs(t, "leaf-1", "leaf", "gw-1", api.StateLinked)

	// A leaf joins the controller directly.
	directTok := createToken(t, "--role", "agent")
	leaf2 := startProc(t, "leaf-2", agentArgs(t, directTok, "--name", "leaf-2", "--data", filepath.Join(dir, "leaf-2"), "--metrics", "127.0.0.1:0")...)
	nodeIs(t, "leaf-2", "leaf", "ctl", api.StateLinked)

	// Refusals, each one line with exit 1 (or 2 for usage).
	t.Run("reused token", func(t *testing.T) {
		_, err := runCLI(t, "agent", "--join", gw.Addr, "--token", leafTok.Token, "--ca-hash", caHash, "--name", "leaf-9", "--data", filepath.Join(dir, "leaf-9"))
		wantErr(t, err, 1, "already used")
	})
	t.Run("wrong CA hash", func(t *testing.T) {
		tok := createToken(t, "--role", "agent")
		wrong := "sha256:" + strings.Repeat("ab", 32)
		_, err := runCLI(t, "agent", "--join", tok.Join.Addr, "--token", tok.Token, "--ca-hash", wrong, "--name", "leaf-8", "--data", filepath.Join(dir, "leaf-8"))
		wantErr(t, err, 1, "does not match --ca-hash")
		// The token was never shown to the impostor: it still works.
		p := startProc(t, "leaf-8", "agent", "--join", tok.Join.Addr, "--token", tok.Token, "--ca-hash", caHash, "--name", "leaf-8", "--data", filepath.Join(dir, "leaf-8"))
		nodeIs(t, "leaf-8", "leaf", "ctl", api.StateLinked)
		p.stop(t)
	})
	t.Run("expired token", func(t *testing.T) {
		tok := createToken(t, "--role", "agent", "--ttl", "1s")
		time.Sleep(1100 * time.Millisecond) // past its expiry; no timing is asserted
		_, err := runCLI(t, "agent", "--join", tok.Join.Addr, "--token", tok.Token, "--ca-hash", caHash, "--name", "leaf-7", "--data", filepath.Join(dir, "leaf-7"))
		wantErr(t, err, 1, "expired")
	})
	t.Run("agent token with --gateway", func(t *testing.T) {
		tok := createToken(t, "--role", "agent")
		_, err := runCLI(t, agentArgs(t, tok, "--gateway", "--listen", "127.0.0.1:0", "--name", "leaf-6", "--data", filepath.Join(dir, "leaf-6"))...)
		wantErr(t, err, 1, "gateway token")
	})
	t.Run("expired certificate", func(t *testing.T) {
		// A device that was offline past its certificate's expiry: made
		// here from the cluster CA with a clock two hours back.
		past := func() time.Time { return time.Now().Add(-2 * time.Hour) }
		ca, err := identity.LoadOrCreateCA(filepath.Join(dir, "ctl", "ca"), past)
		if err != nil {
			t.Fatal(err)
		}
		data := filepath.Join(dir, "leaf-old")
		release, err := claimDataDir(data, "agent")
		if err != nil {
			t.Fatal(err)
		}
		release()
		idDir := filepath.Join(data, "identity")
		key, err := identity.LoadOrCreateKey(identity.NodeKeyPath(idDir))
		if err != nil {
			t.Fatal(err)
		}
		csr, _ := identity.NewCSR(key, "leaf-old")
		der, err := ca.Sign(csr, kernel.RoleLeaf, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		old, err := identity.NewNode(key, der, ca.Cert.Raw)
		if err != nil {
			t.Fatal(err)
		}
		if err := old.Save(idDir); err != nil {
			t.Fatal(err)
		}
		tok := createToken(t, "--role", "agent")
		_, err = runCLI(t, "agent", "--join", tok.Join.Addr, "--data", data)
		wantErr(t, err, 1, "certificate expired")
		p := startProc(t, "leaf-old", "agent", "--join", tok.Join.Addr, "--token", tok.Token, "--data", data)
		nodeIs(t, "leaf-old", "leaf", "ctl", api.StateLinked)
		p.stop(t)
	})
	t.Run("metrics", func(t *testing.T) {
		c, err := (&clientFlags{}).client()
		if err != nil {
			t.Fatal(err)
		}
		defer c.http.CloseIdleConnections()
		resp, err := c.http.Get(c.base.JoinPath("/metrics").String()) // HTTPS checked against the CA in the config
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		for _, want := range []string{"go_goroutines", "process_resident_memory_bytes", "canopy_build_info", "canopy_mesh_children ",
			`canopy_mesh_link_events_total{event="child-up"}`} {
			if !strings.Contains(string(b), want) {
				t.Errorf("controller /metrics (%s) lacks %q", resp.Status, want)
			}
		}
		// The agent's own endpoint (--metrics), found in its log.
		m := regexp.MustCompile(`url=(http://\S+/metrics)`).FindStringSubmatch(leaf2.log.String())
		if m == nil {
			t.Fatalf("leaf-2 logged no metrics URL:\n%s", leaf2.log)
		}
		resp, err = http.Get(m[1])
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ = io.ReadAll(resp.Body)
		for _, want := range []string{"canopy_mesh_parent_up 1", "canopy_outbox_limit_bytes", `canopy_mesh_link_rtt_seconds{peer="ctl"}`} {
			if !strings.Contains(string(b), want) {
				t.Errorf("agent /metrics (%s) lacks %q", resp.Status, want)
			}
		}
	})
	t.Run("usage", func(t *testing.T) {
		_, err := runCLI(t, "agent", "--join", gw.Addr, "--token", "abcdef.0123456789abcdef", "--data", filepath.Join(dir, "leaf-5"))
		wantErr(t, err, 2, "--ca-hash is required")
		_, err = runCLI(t, "agent", "--join", "nowhere", "--data", filepath.Join(dir, "leaf-5"))
		wantErr(t, err, 2, "--join")
		_, err = runCLI(t, "token", "create", "--role", "root")
		wantErr(t, err, 2, "--role")
		_, err = runCLI(t, "token", "create", "--role", "agent", "--token", "wrong.token")
		wantErr(t, err, 1, "token not accepted")
		_, err = runCLI(t, "agent", "--data", leafDir) // leaf-1 runs on it
		wantErr(t, err, 1, "in use by another canopy process")
	})

	// The leaf restarts with only its data directory: same identity, no token.
	cert, err := os.ReadFile(filepath.Join(leafDir, "identity", "node.crt"))
	if err != nil {
		t.Fatal(err)
	}
	leaf.stop(t)
	nodeIs(t, "leaf-1", "leaf", "gw-1", api.StateLost)
	leaf = startProc(t, "leaf-1 again", "agent", "--data", leafDir)
	nodeIs(t, "leaf-1", "leaf", "gw-1", api.StateLinked)
	if again, _ := os.ReadFile(filepath.Join(leafDir, "identity", "node.crt")); !bytes.Equal(cert, again) {
		t.Fatal("the restarted leaf has a new certificate")
	}
	if !strings.Contains(leaf.out.String(), "agent leaf-1 (leaf)") {
		t.Fatalf("restarted leaf printed %q", leaf.out)
	}

	// The controller restarts with the same data: same CA, its tokens still
	// valid (the client config's admin token among them), the nodes known.
	ctl.stop(t)
	cfgBefore, _ := loadClientConfig(cfgPath)
	startProc(t, "server again", serverArgs...)
	eventually(t, "client config rewritten for the new port", func() error {
		c, err := loadClientConfig(cfgPath)
		if err != nil {
			return err
		}
		if c.Server == cfgBefore.Server {
			return errors.New("not yet")
		}
		if c.CAHash != caHash {
			t.Fatalf("CA hash changed across a restart: %s -> %s", caHash, c.CAHash)
		}
		return nil
	})
	t.Setenv("CANOPY_TOKEN", cfgBefore.Token) // the old admin token, from disk
	if n := nodeIs(t, "gw-1", "gateway", "", api.StateLost); n.Labels["site"] != "plant-1" {
		t.Fatalf("gateway after the controller's restart: %+v", n)
	}
	if tok := createToken(t, "--role", "viewer"); tok.Join != nil || tok.Role != "viewer" {
		t.Fatalf("viewer token %+v", tok)
	}
}
