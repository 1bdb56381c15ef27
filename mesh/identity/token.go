package identity

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"regexp"
	"strconv"
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

// KeepExpired is how long a store remembers a token after it expired, so
// that a late attempt is told "expired" rather than "unknown".
const KeepExpired = 24 * time.Hour

// Join token kinds (TokenRecord.Kind); a store may keep tokens of other
// kinds (API tokens) for its caller, who gives them their meaning.
const (
	KindAgent      = "agent"      // joins a leaf
	KindGateway    = "gateway"    // joins a gateway
	KindController = "controller" // joins another controller
)

// joinKinds maps join token kinds to the node roles they grant.
var joinKinds = map[string]kernel.Role{KindAgent: kernel.RoleLeaf, KindGateway: kernel.RoleGateway, KindController: kernel.RoleController}

// JoinSecretLen is the length of a join token's secret (kubeadm's form:
// a 6-character id, a dot, 16 characters).
const JoinSecretLen = 16

const tokenAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789"

// tokenIDRE is a token id: the part before the dot.
var tokenIDRE = regexp.MustCompile(`^[a-z0-9]{6}$`)

// TokenStore is what an Authority needs of join tokens: Create issues one
// granting role for ttl (DefaultTokenTTL when 0); Redeem checks one and
// consumes it (single use), returning the role it grants, or an error
// wrapping ErrTokenMalformed, ErrTokenUnknown, ErrTokenExpired, ErrTokenUsed
// or ErrTokenRevoked; Check answers as Redeem would without consuming the
// token. Implementations are safe for concurrent use. Tokens is one.
type TokenStore interface {
	Create(role kernel.Role, ttl time.Duration) (string, error)
	Redeem(token string) (kernel.Role, error)
	Check(token string) (kernel.Role, error)
}

var _ TokenStore = (*Tokens)(nil)

// TokenRecord is a token as a store keeps it: only the SHA-256 of its
// secret. Its JSON form is the store file's.
type TokenRecord struct {
	ID      string    `json:"id"`
	Hash    string    `json:"sha256"` // hex SHA-256 of the secret
	Kind    string    `json:"role"`   // KindAgent, KindGateway, or the caller's
	Created time.Time `json:"created"`
	Expires time.Time `json:"expires"`
	Used    bool      `json:"used,omitempty"`
	Revoked bool      `json:"revoked,omitempty"`
}

// IsJoin reports whether the record is a join token.
func (r TokenRecord) IsJoin() bool { _, ok := joinKinds[r.Kind]; return ok }

// Tokens issues and checks tokens of the form "ID.SECRET" (a 6-character
// id and a secret, [a-z0-9]): join tokens (kubeadm's form, single use) and
// tokens of the caller's kinds. Only the SHA-256 of a secret is kept;
// checks compare it in constant time. A store opened with OpenTokens keeps
// its tokens in a file (mode 0600), written atomically and synced before a
// change returns, so that they survive a restart. Safe for concurrent use.
type Tokens struct {
	now  func() time.Time
	path string // "" keeps the tokens in memory only
	mu   sync.Mutex
	m    map[string]*TokenRecord
}

// NewTokens makes an empty store kept in memory; now nil means time.Now.
func NewTokens(now func() time.Time) *Tokens {
	if now == nil {
		now = time.Now
	}
	return &Tokens{now: now, m: map[string]*TokenRecord{}}
}

// OpenTokens opens the store kept in the file at path (none yet is an
// empty store). A damaged file is an error naming the entry.
func OpenTokens(path string, now func() time.Time) (*Tokens, error) {
	t := NewTokens(now)
	t.path = path
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return t, nil
	}
	if err != nil {
		return nil, fmt.Errorf("tokens: %w", err)
	}
	var file struct {
		Tokens []*TokenRecord `json:"tokens"`
	}
	if err := json.Unmarshal(b, &file); err != nil {
		return nil, fmt.Errorf("tokens %s: %w", path, err)
	}
	for i, r := range file.Tokens {
		if r == nil || !tokenIDRE.MatchString(r.ID) || len(r.Hash) != 2*sha256.Size || !isHex(r.Hash) {
			return nil, fmt.Errorf("tokens %s: entry %d is damaged (want an id of 6 [a-z0-9] and a sha256 of 64 hex digits)", path, i)
		}
		t.m[r.ID] = r
	}
	return t, nil
}

func isHex(s string) bool {
	_, err := hex.DecodeString(s)
	return err == nil
}

// Issue makes a token of kind with a secret of secretLen characters, valid
// for ttl, and returns it with its record.
func (t *Tokens) Issue(kind string, secretLen int, ttl time.Duration) (string, TokenRecord, error) {
	if kind == "" || secretLen < JoinSecretLen || ttl <= 0 {
		return "", TokenRecord{}, fmt.Errorf("token of kind %q, secret of %d, ttl %s: want a kind, a secret of %d or more, a positive ttl", kind, secretLen, ttl, JoinSecretLen)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	t.pruneLocked(now)
	id := randomString(6)
	for t.m[id] != nil {
		id = randomString(6)
	}
	secret := randomString(secretLen)
	sum := sha256.Sum256([]byte(secret))
	r := &TokenRecord{ID: id, Hash: hex.EncodeToString(sum[:]), Kind: kind, Created: now.UTC(), Expires: now.Add(ttl).UTC()}
	t.m[id] = r
	if err := t.saveLocked(); err != nil {
		delete(t.m, id)
		return "", TokenRecord{}, err
	}
	return id + "." + secret, *r, nil
}

// Create issues a join token for a node role (TokenStore): a leaf's is of
// KindAgent, a gateway's of KindGateway, a controller's of KindController;
// ttl 0 is DefaultTokenTTL.
func (t *Tokens) Create(role kernel.Role, ttl time.Duration) (string, error) {
	kind := ""
	for k, r := range joinKinds {
		if r == role {
			kind = k
		}
	}
	if kind == "" {
		return "", fmt.Errorf("join token for role %q: want leaf, gateway or controller", role)
	}
	if ttl <= 0 {
		ttl = DefaultTokenTTL
	}
	tok, _, err := t.Issue(kind, JoinSecretLen, ttl)
	return tok, err
}

// Redeem checks a join token and consumes it (on disk, for a durable
// store, before it returns), returning the node role it grants.
func (t *Tokens) Redeem(token string) (kernel.Role, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	r, err := t.joinLocked(token)
	if err != nil {
		return "", err
	}
	r.Used = true
	if err := t.saveLocked(); err != nil {
		r.Used = false
		return "", err
	}
	return joinRole(r), nil
}

// Check answers as Redeem would, without consuming the token.
func (t *Tokens) Check(token string) (kernel.Role, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	r, err := t.joinLocked(token)
	if err != nil {
		return "", err
	}
	return joinRole(r), nil
}

func joinRole(r *TokenRecord) kernel.Role { return joinKinds[r.Kind] }

// joinLocked finds the join token Redeem would take.
func (t *Tokens) joinLocked(token string) (*TokenRecord, error) {
	r, err := t.lookupLocked(token, JoinSecretLen)
	if err != nil {
		return nil, err
	}
	if !r.IsJoin() {
		return nil, fmt.Errorf("token %s: %w", r.ID, ErrTokenUnknown)
	}
	return r, t.goodLocked(r, true)
}

// goodLocked says why r may not be used now: revoked, used (for a join
// token, which is single use) or expired, in that order.
func (t *Tokens) goodLocked(r *TokenRecord, join bool) error {
	switch {
	case r.Revoked:
		return fmt.Errorf("token %s: %w", r.ID, ErrTokenRevoked)
	case join && r.Used:
		return fmt.Errorf("token %s: %w", r.ID, ErrTokenUsed)
	case !t.now().Before(r.Expires):
		return fmt.Errorf("token %s: %w", r.ID, ErrTokenExpired)
	}
	return nil
}

// Lookup checks a token whose secret has secretLen characters and returns
// its record: an error wrapping ErrTokenMalformed or ErrTokenUnknown for
// one the store does not have, ErrTokenRevoked or ErrTokenExpired for one
// no longer good. Whether its kind and use suit the caller is the
// caller's to judge.
func (t *Tokens) Lookup(token string, secretLen int) (TokenRecord, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	r, err := t.lookupLocked(token, secretLen)
	if err == nil {
		err = t.goodLocked(r, false)
	}
	if err != nil {
		return TokenRecord{}, err
	}
	return *r, nil
}

// lookupLocked finds the record of a token, comparing its secret in
// constant time.
func (t *Tokens) lookupLocked(token string, secretLen int) (*TokenRecord, error) {
	id, secret, ok := splitToken(token, secretLen)
	if !ok {
		return nil, ErrTokenMalformed
	}
	sum := sha256.Sum256([]byte(secret))
	r := t.m[id]
	var want []byte
	if r != nil {
		want, _ = hex.DecodeString(r.Hash)
	}
	if r == nil || subtle.ConstantTimeCompare(want, sum[:]) != 1 {
		return nil, fmt.Errorf("token %s: %w", id, ErrTokenUnknown)
	}
	return r, nil
}

// splitToken parses "ID.SECRET" with a secret of secretLen characters.
func splitToken(token string, secretLen int) (id, secret string, ok bool) {
	if len(token) != 6+1+secretLen || token[6] != '.' {
		return "", "", false
	}
	for i := 0; i < len(token); i++ {
		if c := token[i]; i != 6 && !('a' <= c && c <= 'z' || '0' <= c && c <= '9') {
			return "", "", false
		}
	}
	return token[:6], token[7:], true
}

// Revoke makes token id unusable (on disk, for a durable store, before it
// returns) if allow, when not nil, accepts its kind; allow's error is
// returned as it is. An unknown id is an error wrapping ErrTokenUnknown;
// revoking a revoked token changes nothing.
func (t *Tokens) Revoke(id string, allow func(kind string) error) (TokenRecord, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	r := t.m[id]
	if r == nil {
		return TokenRecord{}, fmt.Errorf("token %s: %w", strconv.Quote(id), ErrTokenUnknown)
	}
	if allow != nil {
		if err := allow(r.Kind); err != nil {
			return TokenRecord{}, err
		}
	}
	if !r.Revoked {
		r.Revoked = true
		if err := t.saveLocked(); err != nil {
			r.Revoked = false
			return TokenRecord{}, err
		}
	}
	return *r, nil
}

// List returns the records of every token the store remembers.
func (t *Tokens) List() []TokenRecord {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]TokenRecord, 0, len(t.m))
	for _, r := range t.m {
		out = append(out, *r)
	}
	return out
}

// Now is the store's clock.
func (t *Tokens) Now() time.Time { return t.now() }

// Prune forgets tokens expired for longer than KeepExpired.
func (t *Tokens) Prune() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.pruneLocked(t.now()) {
		return t.saveLocked()
	}
	return nil
}

func (t *Tokens) pruneLocked(now time.Time) (pruned bool) {
	for id, r := range t.m {
		if now.Sub(r.Expires) > KeepExpired {
			delete(t.m, id)
			pruned = true
		}
	}
	return pruned
}

// saveLocked writes a durable store's file; a store in memory has none.
func (t *Tokens) saveLocked() error {
	if t.path == "" {
		return nil
	}
	file := struct {
		Tokens []*TokenRecord `json:"tokens"`
	}{Tokens: make([]*TokenRecord, 0, len(t.m))}
	for _, r := range t.m {
		file.Tokens = append(file.Tokens, r)
	}
	b, err := json.MarshalIndent(file, "", "  ")
	if err != nil {
		return err
	}
	return writeFile(t.path, b, 0o600)
}

// randomString draws n characters of [a-z0-9] uniformly from crypto/rand.
func randomString(n int) string {
	out := make([]byte, 0, n)
	var b [1]byte
	for len(out) < n {
		rand.Read(b[:]) // never fails (crypto/rand panics instead)
		if int(b[0]) >= 256/len(tokenAlphabet)*len(tokenAlphabet) {
			continue // reject to keep the draw uniform
		}
		out = append(out, tokenAlphabet[int(b[0])%len(tokenAlphabet)])
	}
	return string(out)
}
