package identity

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"regexp"
	"sync"
	"time"

	"github.com/canopy-fleet/canopy/kernel"
)

// Errors of token checks.
var (
	ErrTokenMalformed = errors.New("token malformed, want ID.SECRET")
	ErrTokenUnknown   = errors.New("token unknown")
	ErrTokenExpired   = errors.New("token expired")
	ErrTokenUsed      = errors.New("token already used")
	ErrTokenRevoked   = errors.New("token revoked")
)

// DefaultTokenTTL is a join token's lifetime when the caller gives none.
const DefaultTokenTTL = 15 * time.Minute

var tokenRE = regexp.MustCompile(`^([a-z0-9]{6})\.([a-z0-9]{16})$`)

const tokenAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789"

// TokenStore is what an Authority needs of join tokens: Create issues one
// granting role for ttl (DefaultTokenTTL when 0); Redeem checks one and
// consumes it (single use), returning the role it grants, or an error
// wrapping ErrTokenMalformed, ErrTokenUnknown, ErrTokenExpired, ErrTokenUsed
// or ErrTokenRevoked; Check answers as Redeem would without consuming the
// token. Implementations are safe for concurrent use. Tokens is the
// in-memory one.
type TokenStore interface {
	Create(role kernel.Role, ttl time.Duration) (string, error)
	Redeem(token string) (kernel.Role, error)
	Check(token string) (kernel.Role, error)
}

var _ TokenStore = (*Tokens)(nil)

type tokenEntry struct {
	hash    [sha256.Size]byte
	role    kernel.Role
	expires time.Time
	used    bool
	revoked bool
}

// Tokens issues and checks join tokens of the form "ID.SECRET" (6 and 16
// characters of [a-z0-9], like kubeadm's). Only the SHA-256 of the secret is
// kept; checks compare in constant time. A token is single-use: the first
// successful Redeem consumes it, so a replayed token is refused. Safe for
// concurrent use.
type Tokens struct {
	now func() time.Time
	mu  sync.Mutex
	m   map[string]*tokenEntry
}

// NewTokens makes an empty token store; now nil means time.Now.
func NewTokens(now func() time.Time) *Tokens {
	if now == nil {
		now = time.Now
	}
	return &Tokens{now: now, m: map[string]*tokenEntry{}}
}

// Create issues a token for role valid for ttl (DefaultTokenTTL when 0).
func (t *Tokens) Create(role kernel.Role, ttl time.Duration) (string, error) {
	if err := validRole(role); err != nil {
		return "", err
	}
	if ttl <= 0 {
		ttl = DefaultTokenTTL
	}
	id, secret := randomString(6), randomString(16)
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, dup := t.m[id]; dup {
		return "", fmt.Errorf("token id collision, try again")
	}
	t.m[id] = &tokenEntry{hash: sha256.Sum256([]byte(secret)), role: role, expires: t.now().Add(ttl)}
	return id + "." + secret, nil
}

// Redeem checks a token and consumes it, returning the role it grants.
func (t *Tokens) Redeem(token string) (kernel.Role, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e, err := t.lookupLocked(token)
	if err != nil {
		return "", err
	}
	e.used = true
	return e.role, nil
}

// Check answers as Redeem would, without consuming the token.
func (t *Tokens) Check(token string) (kernel.Role, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e, err := t.lookupLocked(token)
	if err != nil {
		return "", err
	}
	return e.role, nil
}

// lookupLocked finds the entry of a token Redeem would take, comparing its
// secret in constant time.
func (t *Tokens) lookupLocked(token string) (*tokenEntry, error) {
	m := tokenRE.FindStringSubmatch(token)
	if m == nil {
		return nil, ErrTokenMalformed
	}
	sum := sha256.Sum256([]byte(m[2]))
	e := t.m[m[1]]
	if e == nil || subtle.ConstantTimeCompare(e.hash[:], sum[:]) != 1 {
		return nil, fmt.Errorf("token %s: %w", m[1], ErrTokenUnknown)
	}
	switch {
	case e.revoked:
		return nil, fmt.Errorf("token %s: %w", m[1], ErrTokenRevoked)
	case e.used:
		return nil, fmt.Errorf("token %s: %w", m[1], ErrTokenUsed)
	case !t.now().Before(e.expires):
		return nil, fmt.Errorf("token %s: %w", m[1], ErrTokenExpired)
	}
	return e, nil
}

// Revoke makes a token unusable. Revoking an unknown id is an error.
func (t *Tokens) Revoke(id string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.m[id]
	if e == nil {
		return fmt.Errorf("token %s: %w", id, ErrTokenUnknown)
	}
	e.revoked = true
	return nil
}

// Prune forgets tokens that expired before now, keeping the store small.
func (t *Tokens) Prune() {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	for id, e := range t.m {
		if now.After(e.expires) {
			delete(t.m, id)
		}
	}
}

func randomString(n int) string {
	out := make([]byte, 0, n)
	b := make([]byte, 1)
	for len(out) < n {
		if _, err := rand.Read(b); err != nil {
			panic("crypto/rand failed: " + err.Error())
		}
		if int(b[0]) >= 256/len(tokenAlphabet)*len(tokenAlphabet) {
			continue // reject to keep the draw uniform
		}
		out = append(out, tokenAlphabet[int(b[0])%len(tokenAlphabet)])
	}
	return string(out)
}
