package identity

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/canopy-fleet/canopy/kernel"
)

// oneToken is a TokenStore of another kind than Tokens: it knows one token
// and says so in its own words.
type oneToken struct {
	tok  string
	used bool
}

func (o *oneToken) Create(kernel.Role, time.Duration) (string, error) {
	return "", errors.New("oneToken issues nothing")
}

func (o *oneToken) Redeem(tok string) (kernel.Role, error) {
	r, err := o.Check(tok)
	if err == nil {
		o.used = true
	}
	return r, err
}

func (o *oneToken) Check(tok string) (kernel.Role, error) {
	switch {
	case tok != o.tok:
		return "", fmt.Errorf("token %.6s: %w", tok, ErrTokenUnknown)
	case o.used:
		return "", fmt.Errorf("token %.6s: %w", tok, ErrTokenUsed)
	}
	return kernel.RoleGateway, nil
}

// An Authority redeems through whatever TokenStore it is given, passes its
// refusals on unchanged, and tells OnJoin of each node it signed for.
func TestAuthorityWithOtherTokenStore(t *testing.T) {
	ca, err := LoadOrCreateCA(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	type joined struct {
		name kernel.NodeName
		role kernel.Role
	}
	var got []joined
	a := &Authority{CA: ca, Tokens: &oneToken{tok: "abcdef.0123456789abcdef"},
		OnJoin: func(n kernel.NodeName, r kernel.Role, _ string) { got = append(got, joined{n, r}) }}
	key, err := LoadOrCreateKey(filepath.Join(t.TempDir(), "k"))
	if err != nil {
		t.Fatal(err)
	}
	csr, _ := NewCSR(key, "gw-1")
	cert, caDER, err := a.Join("abcdef.0123456789abcdef", csr)
	if err != nil {
		t.Fatal(err)
	}
	n, err := NewNode(key, cert, caDER)
	if err != nil || n.Name != "gw-1" || n.Role != kernel.RoleGateway {
		t.Fatalf("joined %+v, %v", n, err)
	}
	if _, _, err := a.Join("abcdef.0123456789abcdef", csr); !errors.Is(err, ErrTokenUsed) || err.Error() != "token abcdef: token already used" {
		t.Fatalf("replayed: %v", err)
	}
	if _, _, err := a.Join("zzzzzz.0123456789abcdef", csr); !errors.Is(err, ErrTokenUnknown) {
		t.Fatalf("unknown: %v", err)
	}
	if len(got) != 1 || got[0] != (joined{"gw-1", kernel.RoleGateway}) {
		t.Fatalf("OnJoin saw %v", got)
	}
	if _, _, err := (&Authority{CA: ca}).Join("abcdef.0123456789abcdef", csr); err == nil {
		t.Fatal("an authority with no token store joined a node")
	}
}

// Admit sees the name and key a CSR asks for before the token is redeemed:
// a refused name leaves the token unused, and OnJoin gets the same key hash.
func TestAuthorityAdmitBeforeRedeem(t *testing.T) {
	ca, err := LoadOrCreateCA(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	store := &oneToken{tok: "abcdef.0123456789abcdef"}
	var admitted, recorded string
	a := &Authority{CA: ca, Tokens: store,
		Admit: func(n kernel.NodeName, key string) error {
			if n == "taken" {
				return errors.New(`node name "taken" is in use by another device`)
			}
			admitted = key
			return nil
		},
		OnJoin: func(_ kernel.NodeName, _ kernel.Role, key string) { recorded = key }}
	key, err := LoadOrCreateKey(filepath.Join(t.TempDir(), "k"))
	if err != nil {
		t.Fatal(err)
	}
	csr, _ := NewCSR(key, "taken")
	if _, _, err := a.Join("abcdef.0123456789abcdef", csr); err == nil || err.Error() != `node name "taken" is in use by another device` {
		t.Fatalf("taken name: %v", err)
	}
	if store.used {
		t.Fatal("a refused name used the token up")
	}
	csr, _ = NewCSR(key, "free")
	cert, _, err := a.Join("abcdef.0123456789abcdef", csr)
	if err != nil {
		t.Fatal(err)
	}
	c, err := DecodeCert(cert)
	if err != nil {
		t.Fatal(err)
	}
	if want := KeyHash(c.RawSubjectPublicKeyInfo); admitted != want || recorded != want {
		t.Fatalf("key hashes: admitted %s, recorded %s, want %s", admitted, recorded, want)
	}
	if _, _, err := a.Join("abcdef.0123456789abcdef", []byte("not a csr")); err == nil || !strings.Contains(err.Error(), "csr") {
		t.Fatalf("garbage csr: %v", err)
	}
}

// A join without a valid token is refused for its token before Admit is
// asked: a peer holding no token learns nothing of the names in use.
func TestAuthorityAdmitOnlyWithValidToken(t *testing.T) {
	ca, err := LoadOrCreateCA(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	store := &oneToken{tok: "abcdef.0123456789abcdef"}
	asked := 0
	a := &Authority{CA: ca, Tokens: store, Admit: func(n kernel.NodeName, _ string) error {
		asked++
		return fmt.Errorf("node name %q is taken by another device (joined 2026-01-02)", n)
	}}
	key, err := LoadOrCreateKey(filepath.Join(t.TempDir(), "k"))
	if err != nil {
		t.Fatal(err)
	}
	csr, _ := NewCSR(key, "taken")
	for _, tok := range []string{"zzzzzz.0123456789abcdef", "not a token"} {
		_, _, err := a.Join(tok, csr)
		if err == nil || strings.Contains(err.Error(), "taken") {
			t.Fatalf("join with token %q: %v, want the token refused without a word on the name", tok, err)
		}
	}
	if asked != 0 {
		t.Fatalf("Admit asked %d times for joins without a valid token", asked)
	}
	if _, _, err := a.Join(store.tok, csr); err == nil || !strings.Contains(err.Error(), "taken") || store.used {
		t.Fatalf("join with a valid token for a taken name: %v (token used: %v)", err, store.used)
	}
}
