package main

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/canopy-fleet/canopy/kernel"
	"github.com/canopy-fleet/canopy/kernel/api"
	"github.com/canopy-fleet/canopy/mesh/identity"
)

func TestTokenStore(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	path := filepath.Join(t.TempDir(), "tokens.json")
	s, err := openTokenStore(path, clock)
	if err != nil {
		t.Fatal(err)
	}
	mk := func(role string, ttl time.Duration) string {
		t.Helper()
		tok, _, err := s.create(role, ttl)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	agent, gateway, used, expiring := mk("agent", 0), mk("gateway", time.Hour), mk("agent", 0), mk("agent", time.Minute)
	viewer, operator, stale := mk("viewer", 0), mk("operator", time.Hour), mk("viewer", time.Minute)
	if _, err := s.Redeem(used); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.create("root", 0); err == nil {
		t.Fatal("bad role accepted")
	}
	now = now.Add(2 * time.Minute)

	// Everything below holds after a restart: the store is reopened from disk.
	s, err = openTokenStore(path, clock)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	for _, tok := range []string{agent, viewer} {
		if _, secret, _ := strings.Cut(tok, "."); strings.Contains(string(b), secret) {
			t.Fatal("a token's secret is stored in clear")
		}
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Fatalf("tokens file mode %v", st.Mode().Perm())
	}
	for _, c := range []struct {
		name, tok string
		role      kernel.Role
		err       error
	}{
		{"agent", agent, kernel.RoleLeaf, nil},
		{"agent again", agent, "", identity.ErrTokenUsed},
		{"gateway", gateway, kernel.RoleGateway, nil},
		{"used before the restart", used, "", identity.ErrTokenUsed},
		{"expired", expiring, "", identity.ErrTokenExpired},
		{"an API token", viewer, "", identity.ErrTokenMalformed},
		{"wrong secret", agent[:7] + strings.Repeat("a", 16), "", identity.ErrTokenUnknown},
		{"malformed", "hello", "", identity.ErrTokenMalformed},
	} {
		t.Run("join/"+c.name, func(t *testing.T) {
			role, err := s.Redeem(c.tok)
			if role != c.role || !errors.Is(err, c.err) {
				t.Fatalf("got %q, %v; want %q, %v", role, err, c.role, c.err)
			}
		})
	}
	for _, c := range []struct {
		name, tok string
		role      api.Role
		err       error
	}{
		{"viewer", viewer, api.RoleViewer, nil},
		{"operator", operator, api.RoleOperator, nil},
		{"expired", stale, "", api.ErrTokenExpired},
		{"a join token", gateway, "", api.ErrUnauthenticated},
		{"wrong secret", viewer[:7] + strings.Repeat("a", 32), "", api.ErrUnauthenticated},
		{"empty", "", "", api.ErrUnauthenticated},
	} {
		t.Run("api/"+c.name, func(t *testing.T) {
			role, err := s.Authenticate(context.Background(), c.tok)
			if role != c.role || !errors.Is(err, c.err) {
				t.Fatalf("got %q, %v; want %q, %v", role, err, c.role, c.err)
			}
		})
	}
	// Expired tokens are forgotten a day after they expire.
	now = now.Add(identity.KeepExpired + time.Hour)
	mk("agent", 0)
	if _, err := s.Authenticate(context.Background(), stale); !errors.Is(err, api.ErrUnauthenticated) {
		t.Fatalf("long-expired token: %v", err)
	}
}

func TestParseLabels(t *testing.T) {
	for _, c := range []struct {
		in   string
		want map[string]string
		ok   bool
	}{
		{"", nil, true},
		{"site=plant-1,arch=arm64", map[string]string{"site": "plant-1", "arch": "arm64"}, true},
		{"empty=", map[string]string{"empty": ""}, true},
		{"novalue", nil, false},
		{"=v", nil, false},
		{"a=1,a=2", nil, false},
		{"a=b c", nil, false},
	} {
		got, err := parseLabels(c.in)
		if (err == nil) != c.ok || (c.ok && len(got) != len(c.want)) {
			t.Errorf("parseLabels(%q) = %v, %v", c.in, got, err)
			continue
		}
		for k, v := range c.want {
			if got[k] != v {
				t.Errorf("parseLabels(%q)[%q] = %q, want %q", c.in, k, got[k], v)
			}
		}
		if err != nil && exitCodeQuiet(err) != 2 {
			t.Errorf("parseLabels(%q): exit code %d, want 2", c.in, exitCodeQuiet(err))
		}
	}
}

func TestClaimDataDir(t *testing.T) {
	dir := t.TempDir()
	release, err := claimDataDir(dir, "controller")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := claimDataDir(dir, "controller"); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("a second claim while the first holds it: %v", err)
	}
	release()
	release, err = claimDataDir(dir, "controller")
	if err != nil {
		t.Fatal(err)
	}
	release()
	if _, err := claimDataDir(dir, "agent"); err == nil || !strings.Contains(err.Error(), "belongs to a controller") {
		t.Fatalf("agent on a controller's dir: %v", err)
	}
}

func TestClientConfigPrecedence(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.yaml")
	t.Setenv("CANOPY_CONFIG", path)
	t.Setenv("CANOPY_SERVER", "")
	t.Setenv("CANOPY_TOKEN", "")
	var none clientFlags
	if _, err := none.client(); err == nil || exitCodeQuiet(err) != 2 || !strings.Contains(err.Error(), "no server") {
		t.Fatalf("no config at all: %v", err)
	}
	if err := (&clientConfig{Server: "https://file:7070", Token: "file-token"}).save(path); err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Fatalf("config mode %v", st.Mode().Perm())
	}
	check := func(f clientFlags, host, token string) {
		t.Helper()
		c, err := f.client()
		if err != nil {
			t.Fatal(err)
		}
		if c.base.Host != host || c.token != token {
			t.Fatalf("got %s %s, want %s %s", c.base.Host, c.token, host, token)
		}
	}
	check(clientFlags{}, "file:7070", "file-token")
	t.Setenv("CANOPY_SERVER", "env:7070")
	t.Setenv("CANOPY_TOKEN", "env-token")
	check(clientFlags{}, "env:7070", "env-token")
	check(clientFlags{server: "https://flag:1", token: "flag-token"}, "flag:1", "flag-token")
	if _, err := (&clientFlags{server: "https://"}).client(); err == nil || exitCodeQuiet(err) != 2 {
		t.Fatalf("bad server URL: %v", err)
	}
	os.WriteFile(path, []byte("server: x\nbogus: 1\n"), 0o600)
	if _, err := loadClientConfig(path); err == nil || strings.Contains(err.Error(), "\n") {
		t.Fatalf("config with an unknown field: %v", err)
	}
}

// A client without the cluster CA is told how to get it, in one line.
func TestClientWithoutCA(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.yaml")
	t.Setenv("CANOPY_CONFIG", path)
	t.Setenv("CANOPY_SERVER", "")
	t.Setenv("CANOPY_TOKEN", "")
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	defer srv.Close()
	c, err := (&clientFlags{server: srv.URL, token: "x"}).client()
	if err != nil {
		t.Fatal(err)
	}
	defer c.http.CloseIdleConnections()
	err = c.do(context.Background(), http.MethodGet, "/api/v1/nodes", nil, nil)
	if err == nil || !strings.Contains(err.Error(), "copy the client config") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("got %v", err)
	}
}

// An http:// server URL would send the bearer token in clear text (and the
// API serves HTTPS only): refused as a usage error unless the host is
// loopback.
func TestClientRefusesCleartextToken(t *testing.T) {
	t.Setenv("CANOPY_CONFIG", filepath.Join(t.TempDir(), "config.yaml"))
	t.Setenv("CANOPY_SERVER", "")
	t.Setenv("CANOPY_TOKEN", "")
	for _, s := range []string{"http://10.0.0.5:7070", "http://ctl.example:7070", "HTTP://ctl:7070", "ftp://ctl:7070"} {
		if _, err := (&clientFlags{server: s, token: "x"}).client(); err == nil || exitCodeQuiet(err) != 2 || strings.Contains(err.Error(), "\n") {
			t.Errorf("server %s: %v, want a one-line usage error", s, err)
		}
	}
	for _, s := range []string{"http://127.0.0.1:7070", "http://localhost:7070", "http://[::1]:7070", "https://10.0.0.5:7070", "10.0.0.5:7070"} {
		if _, err := (&clientFlags{server: s, token: "x"}).client(); err != nil {
			t.Errorf("server %s: %v", s, err)
		}
	}
}

// A damaged tokens.json or nodes.json stops the controller with one line
// naming the file, never a panic.
func TestDamagedControllerFiles(t *testing.T) {
	dir := t.TempDir()
	for _, body := range []string{`{"tokens":[null]}`, `{"tokens":[{"id":"","sha256":"00","role":"agent"}]}`, `{"tokens":[{"id":"abcdef","sha256":"zz","role":"agent"}]}`} {
		path := filepath.Join(dir, "tokens.json")
		os.WriteFile(path, []byte(body), 0o600)
		if _, err := openTokenStore(path, nil); err == nil || !strings.Contains(err.Error(), path) || strings.Contains(err.Error(), "\n") {
			t.Errorf("tokens %s: %v, want a one-line error naming the file", body, err)
		}
	}
	for _, body := range []string{`{"nodes":[null]}`, `{"nodes":[{"name":"Not A Name","role":"leaf"}]}`} {
		path := filepath.Join(dir, "nodes.json")
		os.WriteFile(path, []byte(body), 0o600)
		if _, err := openNodeRegistry(path, "ctl"); err == nil || !strings.Contains(err.Error(), path) || strings.Contains(err.Error(), "\n") {
			t.Errorf("nodes %s: %v, want a one-line error naming the file", body, err)
		}
	}
}

// Check answers as Redeem would and leaves the token usable.
func TestTokenStoreCheck(t *testing.T) {
	s, err := openTokenStore(filepath.Join(t.TempDir(), "tokens.json"), nil)
	if err != nil {
		t.Fatal(err)
	}
	gw, _, err := s.create(api.TokenGateway, 0)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if r, err := s.Check(gw); err != nil || r != kernel.RoleGateway {
			t.Fatalf("check: %q, %v", r, err)
		}
	}
	if r, err := s.Redeem(gw); err != nil || r != kernel.RoleGateway {
		t.Fatalf("redeem after checks: %q, %v", r, err)
	}
	if _, err := s.Check(gw); !errors.Is(err, identity.ErrTokenUsed) {
		t.Fatalf("check after redeem: %v", err)
	}
	if _, err := s.Check(gw[:7] + strings.Repeat("a", 16)); !errors.Is(err, identity.ErrTokenUnknown) {
		t.Fatalf("check of a wrong secret: %v", err)
	}
}

// The config file's token goes only to the config file's server: naming
// another server by flag or environment without a token of its own is a
// usage error, not a leak of the file's (admin) token to that server.
func TestClientFileTokenStaysWithItsServer(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.yaml")
	t.Setenv("CANOPY_CONFIG", path)
	t.Setenv("CANOPY_SERVER", "")
	t.Setenv("CANOPY_TOKEN", "")
	if err := (&clientConfig{Server: "https://ctl-a:7070", Token: "a-admin-token"}).save(path); err != nil {
		t.Fatal(err)
	}
	if _, err := (&clientFlags{server: "https://ctl-b:7070"}).client(); err == nil || exitCodeQuiet(err) != 2 || !strings.Contains(err.Error(), "token") {
		t.Fatalf("--server of another cluster with the file's token: %v", err)
	}
	t.Setenv("CANOPY_SERVER", "ctl-b:7070")
	if _, err := (&clientFlags{}).client(); err == nil || exitCodeQuiet(err) != 2 {
		t.Fatalf("CANOPY_SERVER of another cluster with the file's token: %v", err)
	}
	t.Setenv("CANOPY_SERVER", "")
	// The same server, however it is written, keeps the file's token.
	for _, s := range []string{"", "https://ctl-a:7070", "ctl-a:7070", "https://ctl-a:7070/"} {
		c, err := (&clientFlags{server: s}).client()
		if err != nil || c.token != "a-admin-token" {
			t.Fatalf("server %q: %v", s, err)
		}
	}
	if c, err := (&clientFlags{server: "https://ctl-b:7070", token: "b"}).client(); err != nil || c.token != "b" {
		t.Fatalf("another server with its own token: %v", err)
	}
}
