package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/google/renameio/v2/maybe"

	"github.com/canopy-fleet/canopy/kernel"
	"github.com/canopy-fleet/canopy/kernel/api"
	"github.com/canopy-fleet/canopy/mesh/identity"
)

// defaultAPITokenTTL is an API token's lifetime when the caller gives
// none; join tokens default to identity.DefaultTokenTTL.
const defaultAPITokenTTL = 30 * 24 * time.Hour

// apiSecretLen is the length of an API token's secret (a join token's is
// identity.JoinSecretLen).
const apiSecretLen = 32

// tokenStore is the controller's token store: identity's durable one
// (hashed, in one file written atomically on every change, so tokens
// survive a restart), holding join tokens for the controller's
// identity.Authority (joins, direct or relayed: single use, persisted
// before the certificate is signed) and API tokens, whose kinds are API
// roles, for the API's authentication. Safe for concurrent use.
type tokenStore struct {
	*identity.Tokens
}

var _ identity.TokenStore = (*tokenStore)(nil)

func openTokenStore(path string, now func() time.Time) (*tokenStore, error) {
	t, err := identity.OpenTokens(path, now)
	if err != nil {
		return nil, err
	}
	return &tokenStore{t}, nil
}

// Create issues a join token for a leaf or a gateway
// (identity.TokenStore). A controller cannot join this one's cluster (one
// controller per cluster until the control plane replicates its state),
// so no token is made for one.
func (s *tokenStore) Create(role kernel.Role, ttl time.Duration) (string, error) {
	if role != kernel.RoleLeaf && role != kernel.RoleGateway {
		return "", fmt.Errorf("join token for role %q: want leaf or gateway", role)
	}
	return s.Tokens.Create(role, ttl)
}

// create makes a token of role (a join role or an API role) valid for ttl
// (a default when 0) and returns it with its expiry.
func (s *tokenStore) create(role string, ttl time.Duration) (string, time.Time, error) {
	secretLen := apiSecretLen
	switch role {
	case api.TokenAgent, api.TokenGateway:
		secretLen = identity.JoinSecretLen
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
	tok, rec, err := s.Issue(role, secretLen, ttl)
	return tok, rec.Expires, err
}

// Authenticate checks an API token (api.Authenticator).
func (s *tokenStore) Authenticate(_ context.Context, tok string) (api.Role, error) {
	r, err := s.Lookup(tok, apiSecretLen)
	switch {
	case errors.Is(err, identity.ErrTokenRevoked):
		return "", api.ErrTokenRevoked
	case errors.Is(err, identity.ErrTokenExpired):
		return "", api.ErrTokenExpired
	case err != nil || r.IsJoin():
		return "", api.ErrUnauthenticated
	}
	return api.ParseRole(r.Kind)
}

// tokenInfo describes r without its secret, as of now.
func tokenInfo(r identity.TokenRecord, now time.Time) api.TokenInfo {
	state := api.TokenValid
	switch {
	case r.Revoked:
		state = api.TokenRevoked
	case r.Used:
		state = api.TokenUsed
	case !now.Before(r.Expires):
		state = api.TokenExpired
	}
	return api.TokenInfo{ID: r.ID, Role: r.Kind, State: state, Created: r.Created, Expires: r.Expires}
}

// list describes every token the store remembers (expired ones for
// identity.KeepExpired).
func (s *tokenStore) list() []api.TokenInfo {
	now := s.Now()
	recs := s.List()
	out := make([]api.TokenInfo, 0, len(recs))
	for _, r := range recs {
		out = append(out, tokenInfo(r, now))
	}
	return out
}

// revoke makes token id unusable, on disk before it returns, if allow
// accepts its role. An unknown id is an *api.Error 404; revoking a revoked
// token changes nothing.
func (s *tokenStore) revoke(id string, allow func(role string) error) (api.TokenInfo, error) {
	r, err := s.Revoke(id, allow)
	if errors.Is(err, identity.ErrTokenUnknown) {
		return api.TokenInfo{}, api.Errorf(http.StatusNotFound, "id", "no token %s (tokens are forgotten a day after they expire)", id)
	}
	if err != nil {
		return api.TokenInfo{}, err
	}
	return tokenInfo(r, s.Now()), nil
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

// writeFileAtomic writes b to path atomically (a synced temporary file
// renamed over it, so a crash leaves the old file or the new one), with
// mode for a new file; the directory is made (0700) if needed.
func writeFileAtomic(path string, b []byte, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := maybe.WriteFile(path, b, mode); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
