package main

import (
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/canopy-fleet/canopy/kernel"
	"github.com/canopy-fleet/canopy/kernel/api"
	"github.com/canopy-fleet/canopy/mesh/frame"
	"github.com/canopy-fleet/canopy/mesh/identity"
)

// A revoked token is refused for what it was (a join, an API call), the
// revocation survives a restart, and the list shows every state without a
// secret.
func TestTokenStoreRevoke(t *testing.T) {
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
	join, viewer, admin, used, short := mk("agent", 0), mk("viewer", 0), mk("admin", 0), mk("gateway", 0), mk("agent", time.Minute)
	if _, err := s.Redeem(used); err != nil {
		t.Fatal(err)
	}
	id := func(tok string) string { return tok[:6] }
	all := func(string) error { return nil }
	for _, tok := range []string{join, viewer} {
		info, err := s.revoke(id(tok), all)
		if err != nil || info.State != api.TokenRevoked {
			t.Fatalf("revoke %s: %+v %v", id(tok), info, err)
		}
	}
	forbidden := api.Errorf(http.StatusForbidden, "", "not yours")
	if _, err := s.revoke(id(admin), func(role string) error {
		if role == api.TokenAdmin {
			return forbidden
		}
		return nil
	}); err != forbidden {
		t.Fatalf("revoke refused by allow: %v", err)
	}
	var ae *api.Error
	if _, err := s.revoke("zzzzzz", all); !errors.As(err, &ae) || ae.Status != http.StatusNotFound {
		t.Fatalf("revoke unknown: %v", err)
	}
	now = now.Add(2 * time.Minute)

	s, err = openTokenStore(path, clock) // a restart
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Redeem(join); !errors.Is(err, identity.ErrTokenRevoked) {
		t.Fatalf("revoked join token redeemed: %v", err)
	}
	if _, err := s.Check(join); !errors.Is(err, identity.ErrTokenRevoked) {
		t.Fatalf("revoked join token checked: %v", err)
	}
	if _, err := s.Authenticate(context.Background(), viewer); !errors.Is(err, api.ErrTokenRevoked) {
		t.Fatalf("revoked API token authenticated: %v", err)
	}
	if r, err := s.Authenticate(context.Background(), admin); err != nil || r != api.RoleAdmin {
		t.Fatalf("admin token after a refused revoke: %v %v", r, err)
	}
	if info, err := s.revoke(id(join), all); err != nil || info.State != api.TokenRevoked {
		t.Fatalf("revoking again: %+v %v", info, err)
	}
	states := map[string]string{}
	for _, ti := range s.list() {
		states[ti.ID] = ti.State
	}
	want := map[string]string{id(join): api.TokenRevoked, id(viewer): api.TokenRevoked, id(admin): api.TokenValid, id(used): api.TokenUsed, id(short): api.TokenExpired}
	for k, v := range want {
		if states[k] != v {
			t.Fatalf("listed states %v, want %v", states, want)
		}
	}
}

// The registry keeps the certificates issued to each node (not the
// expired ones) across restarts, hands back the live serials, and forgets
// a deleted node, freeing its name.
func TestNodeRegistryCerts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nodes.json")
	r, err := openNodeRegistry(path, "ctl")
	if err != nil {
		t.Fatal(err)
	}
	cert := func(name string, serial int64, expires time.Time) *x509.Certificate {
		return &x509.Certificate{SerialNumber: big.NewInt(serial), NotAfter: expires,
			Subject: pkix.Name{CommonName: name, OrganizationalUnit: []string{string(kernel.RoleLeaf)}}}
	}
	now := time.Now()
	if err := r.admit("pi-1", "sha256:k1"); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*x509.Certificate{cert("pi-1", 0x1a, now.Add(-time.Hour)), cert("pi-1", 0x2b, now.Add(time.Hour)), cert("pi-2", 0x3c, now.Add(time.Hour))} {
		if err := r.issued(c); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.joined("pi-1", kernel.RoleLeaf, "sha256:k1"); err != nil {
		t.Fatal(err)
	}
	r, err = openNodeRegistry(path, "ctl") // a restart
	if err != nil {
		t.Fatal(err)
	}
	serials := func(certs []issuedCert) []string {
		var out []string
		for _, c := range certs {
			out = append(out, c.Serial)
		}
		return out
	}
	if got, known := r.liveCerts("pi-1"); !known || !slices.Equal(serials(got), []string{"2b"}) {
		t.Fatalf("pi-1's live certificates %v (known %v), want [2b]", got, known)
	}
	if got, known := r.liveCerts("pi-2"); !known || !slices.Equal(serials(got), []string{"3c"}) {
		t.Fatalf("pi-2 (recorded by its certificate alone) %v %v", got, known)
	}
	if _, known := r.liveCerts("pi-9"); known {
		t.Fatal("an unknown node is known")
	}
	if err := r.admit("pi-1", "sha256:other"); err == nil {
		t.Fatal("another device took pi-1's name")
	}
	if err := r.forget("pi-1"); err != nil {
		t.Fatal(err)
	}
	r, err = openNodeRegistry(path, "ctl")
	if err != nil {
		t.Fatal(err)
	}
	if _, known := r.liveCerts("pi-1"); known {
		t.Fatal("a deleted node is still known after a restart")
	}
	if err := r.admit("pi-1", "sha256:other"); err != nil {
		t.Fatalf("pi-1's name not free after deletion: %v", err)
	}
}

// Labels come with every status report: a node changing them in each one
// costs a write per interval, not per report, and the last ones are on
// disk once the registry closes.
func TestNodeLabelsSavedCoalesced(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nodes.json")
	r, err := openNodeRegistry(path, "ctl")
	if err != nil {
		t.Fatal(err)
	}
	if err := r.joined("pi-1", kernel.RoleLeaf, "sha256:k1"); err != nil {
		t.Fatal(err)
	}
	before := r.writes
	const reports = 200
	for i := range reports {
		b, err := frame.Marshal(nodeStatus{Parent: "ctl", Labels: map[string]string{"seq": strconv.Itoa(i)}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.onStatus(context.Background(), "pi-1", b); err != nil {
			t.Fatal(err)
		}
	}
	r.mu.Lock()
	writes := r.writes - before
	r.mu.Unlock()
	if writes > reports/10 {
		t.Fatalf("%d label changes made %d writes", reports, writes)
	}
	r.close()
	again, err := openNodeRegistry(path, "ctl")
	if err != nil {
		t.Fatal(err)
	}
	if got := again.m["pi-1"].Labels["seq"]; got != strconv.Itoa(reports-1) {
		t.Fatalf("labels on disk after close: seq=%q", got)
	}
}
