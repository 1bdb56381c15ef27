package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"time"

	"github.com/canopy-fleet/canopy/kernel"
	"github.com/canopy-fleet/canopy/kernel/api"
	"github.com/canopy-fleet/canopy/mesh/identity"
)

// Default lifetimes of created tokens.
const (
	defaultAPITokenTTL = 30 * 24 * time.Hour
	// keepExpired is how long an expired or used token is remembered, so
	// that a late attempt is told "expired" or "already used" rather than
	// "unknown".
	keepExpired = 24 * time.Hour
)

// Join tokens are kubeadm's form (ID.SECRET, 6 and 16 characters); API
// tokens have a longer secret.
var (
	joinTokenRE = regexp.MustCompile(`^([a-z0-9]{6})\.([a-z0-9]{16})$`)
	apiTokenRE  = regexp.MustCompile(`^([a-z0-9]{6})\.([a-z0-9]{32})$`)
	tokenIDRE   = regexp.MustCompile(`^[a-z0-9]{6}$`)
)

// isHex reports whether s is hex digits only.
func isHex(s string) bool {
	_, err := hex.DecodeString(s)
	return err == nil
}

// storedToken is a token as kept on disk: only the SHA-256 of its secret.
type storedToken struct {
	ID      string    `json:"id"`
	Hash    string    `json:"sha256"`
	Role    string    `json:"role"` // agent, gateway, admin, operator, viewer
	Created time.Time `json:"created"`
	Expires time.Time `json:"expires"`
	Used    bool      `json:"used,omitempty"`
	Revoked bool      `json:"revoked,omitempty"`
}

func (t *storedToken) isJoin() bool { return t.Role == api.TokenAgent || t.Role == api.TokenGateway }

// tokenStore keeps the controller's join and API tokens hashed in one file
// (mode 0600), written atomically on every change, so that they survive a
// controller restart. It is the controller's identity.Authority's
// TokenStore (joins, direct or relayed: single use, persisted before the
// certificate is signed) and its API authentication. Safe for concurrent
// use.
type tokenStore struct {
	path string
	now  func() time.Time
	mu   sync.Mutex
	m    map[string]*storedToken
}

var _ identity.TokenStore = (*tokenStore)(nil)

func openTokenStore(path string, now func() time.Time) (*tokenStore, error) {
	if now == nil {
		now = time.Now
	}
	s := &tokenStore{path: path, now: now, m: map[string]*storedToken{}}
	var file struct {
		Tokens []*storedToken `json:"tokens"`
	}
	if err := loadJSON(path, "tokens", &file); err != nil {
		return nil, err
	}
	for i, t := range file.Tokens {
		if t == nil || !tokenIDRE.MatchString(t.ID) || len(t.Hash) != 2*sha256.Size || !isHex(t.Hash) {
			return nil, fmt.Errorf("tokens %s: entry %d is damaged (want an id of 6 [a-z0-9] and a sha256 of 64 hex digits)", path, i)
		}
		s.m[t.ID] = t
	}
	return s, nil
}

// create makes a token of role (a join role or an API role) valid for ttl
// (a default when 0) and returns it with its expiry.
func (s *tokenStore) create(role string, ttl time.Duration) (string, time.Time, error) {
	secretLen := 32
	switch role {
	case api.TokenAgent, api.TokenGateway:
		secretLen = 16
		if ttl <= 0 {
			ttl = identity.DefaultTokenTTL
		}
	case api.TokenAdmin, api.TokenOperator, api.TokenViewer:
		if ttl <= 0 {
			ttl = defaultAPITokenTTL
		}
	default:
		return "", time.Time{}, fmt.Errorf("role %q: want agent, gateway, admin, operator or viewer", role)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	s.pruneLocked(now)
	id := randomToken(6)
	for s.m[id] != nil {
		id = randomToken(6)
	}
	secret := randomToken(secretLen)
	sum := sha256.Sum256([]byte(secret))
	t := &storedToken{ID: id, Hash: hex.EncodeToString(sum[:]), Role: role, Created: now.UTC(), Expires: now.Add(ttl).UTC()}
	s.m[id] = t
	if err := s.saveLocked(); err != nil {
		delete(s.m, id)
		return "", time.Time{}, err
	}
	return id + "." + secret, t.Expires, nil
}

// lookupLocked finds the token whose form re matches and whose secret is
// right, in constant time over the secret.
func (s *tokenStore) lookupLocked(re *regexp.Regexp, tok string) (*storedToken, error) {
	m := re.FindStringSubmatch(tok)
	if m == nil {
		return nil, identity.ErrTokenMalformed
	}
	sum := sha256.Sum256([]byte(m[2]))
	t := s.m[m[1]]
	var want []byte
	if t != nil {
		want, _ = hex.DecodeString(t.Hash)
	}
	if t == nil || subtle.ConstantTimeCompare(want, sum[:]) != 1 {
		return nil, fmt.Errorf("token %s: %w", m[1], identity.ErrTokenUnknown)
	}
	return t, nil
}

// Create issues a join token for a node role (identity.TokenStore): leaf
// is an agent token, gateway a gateway token.
func (s *tokenStore) Create(role kernel.Role, ttl time.Duration) (string, error) {
	var r string
	switch role {
	case kernel.RoleLeaf:
		r = api.TokenAgent
	case kernel.RoleGateway:
		r = api.TokenGateway
	default:
		return "", fmt.Errorf("join token for role %q: want leaf or gateway", role)
	}
	tok, _, err := s.create(r, ttl)
	return tok, err
}

// Redeem checks a join token and consumes it (identity.TokenStore; the use
// is on disk before it returns), returning the node role it grants.
func (s *tokenStore) Redeem(tok string) (kernel.Role, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.joinTokenLocked(tok)
	if err != nil {
		return "", err
	}
	t.Used = true
	if err := s.saveLocked(); err != nil {
		t.Used = false
		return "", err
	}
	return t.nodeRole(), nil
}

// Check answers as Redeem would, without consuming the token
// (identity.TokenStore).
func (s *tokenStore) Check(tok string) (kernel.Role, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.joinTokenLocked(tok)
	if err != nil {
		return "", err
	}
	return t.nodeRole(), nil
}

// joinTokenLocked finds the join token Redeem would take.
func (s *tokenStore) joinTokenLocked(tok string) (*storedToken, error) {
	t, err := s.lookupLocked(joinTokenRE, tok)
	if err != nil {
		return nil, err
	}
	switch {
	case !t.isJoin():
		return nil, fmt.Errorf("token %s: %w", t.ID, identity.ErrTokenUnknown)
	case t.Revoked:
		return nil, fmt.Errorf("token %s: %w", t.ID, identity.ErrTokenRevoked)
	case t.Used:
		return nil, fmt.Errorf("token %s: %w", t.ID, identity.ErrTokenUsed)
	case !s.now().Before(t.Expires):
		return nil, fmt.Errorf("token %s: %w", t.ID, identity.ErrTokenExpired)
	}
	return t, nil
}

// nodeRole is the node role a join token grants.
func (t *storedToken) nodeRole() kernel.Role {
	if t.Role == api.TokenGateway {
		return kernel.RoleGateway
	}
	return kernel.RoleLeaf
}

// Authenticate checks an API token (api.Authenticator).
func (s *tokenStore) Authenticate(_ context.Context, tok string) (api.Role, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.lookupLocked(apiTokenRE, tok)
	if err != nil || t.isJoin() {
		return "", api.ErrUnauthenticated
	}
	if t.Revoked {
		return "", api.ErrTokenRevoked
	}
	if !s.now().Before(t.Expires) {
		return "", api.ErrTokenExpired
	}
	return api.ParseRole(t.Role)
}

// info describes t without its secret, as of now.
func (t *storedToken) info(now time.Time) api.TokenInfo {
	state := api.TokenValid
	switch {
	case t.Revoked:
		state = api.TokenRevoked
	case t.Used:
		state = api.TokenUsed
	case !now.Before(t.Expires):
		state = api.TokenExpired
	}
	return api.TokenInfo{ID: t.ID, Role: t.Role, State: state, Created: t.Created, Expires: t.Expires}
}

// list describes every token the store remembers (expired ones for
// keepExpired).
func (s *tokenStore) list() []api.TokenInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	out := make([]api.TokenInfo, 0, len(s.m))
	for _, t := range s.m {
		out = append(out, t.info(now))
	}
	return out
}

// revoke makes token id unusable, on disk before it returns, if allow
// accepts its role. An unknown id is an *api.Error 404; revoking a revoked
// token changes nothing.
func (s *tokenStore) revoke(id string, allow func(role string) error) (api.TokenInfo, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.m[id]
	if t == nil {
		return api.TokenInfo{}, api.Errorf(http.StatusNotFound, "id", "no token %s (tokens are forgotten a day after they expire)", id)
	}
	if err := allow(t.Role); err != nil {
		return api.TokenInfo{}, err
	}
	if !t.Revoked {
		t.Revoked = true
		if err := s.saveLocked(); err != nil {
			t.Revoked = false
			return api.TokenInfo{}, err
		}
	}
	return t.info(s.now()), nil
}

// pruneLocked forgets tokens expired for longer than keepExpired.
func (s *tokenStore) pruneLocked(now time.Time) {
	for id, t := range s.m {
		if now.Sub(t.Expires) > keepExpired {
			delete(s.m, id)
		}
	}
}

func (s *tokenStore) saveLocked() error {
	file := struct {
		Tokens []*storedToken `json:"tokens"`
	}{Tokens: make([]*storedToken, 0, len(s.m))}
	for _, t := range s.m {
		file.Tokens = append(file.Tokens, t)
	}
	b, err := json.MarshalIndent(file, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(s.path, b, 0o600)
}

const tokenAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789"

// randomToken draws n characters of [a-z0-9] uniformly from crypto/rand.
func randomToken(n int) string {
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

// loadJSON reads the JSON file at path into v, leaving v as it is when the
// file does not exist; what names the file's contents in errors.
func loadJSON(path, what string, v any) error {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s %s: %w", what, path, err)
	}
	return nil
}

// writeFileAtomic writes b to path through a temporary file and a rename,
// with mode, creating the directory (0700) if needed.
func writeFileAtomic(path string, b []byte, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	f, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(b); err == nil {
		err = f.Chmod(mode)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
