package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"time"
)

// Token kinds a TokenRequest may ask for: join tokens for devices, API
// tokens for people and scripts.
const (
	TokenAgent    = "agent"   // join as a leaf
	TokenGateway  = "gateway" // join as a gateway (accepts children)
	TokenOperator = string(RoleOperator)
	TokenViewer   = string(RoleViewer)
	TokenAdmin    = string(RoleAdmin)
)

// TokenRequest is the body of POST /api/v1/tokens.
type TokenRequest struct {
	// Role is agent or gateway (a join token) or viewer, operator or
	// admin (an API token).
	Role string `json:"role"`
	// TTL is how long the token is valid; 0 means the issuer's default.
	TTL time.Duration `json:"-"`
	// Host is the host (no port) the client reached the API by, from the
	// request: a hint for the address a join token's command should name.
	Host string `json:"-"`
}

// IsJoin reports whether the request is for a join token.
func (t TokenRequest) IsJoin() bool { return t.Role == TokenAgent || t.Role == TokenGateway }

// Token is a created token.
type Token struct {
	Token   string    `json:"token"`
	Role    string    `json:"role"`
	Expires time.Time `json:"expires,omitzero"`
	// Join says where and how a device joins with a join token.
	Join *JoinInfo `json:"join,omitempty"`
}

// JoinInfo is what a device needs besides the token: the mesh address to
// join and the CA pin.
type JoinInfo struct {
	Addr   string `json:"addr"`
	CAHash string `json:"caHash"`
}

// Token states in a TokenInfo.
const (
	TokenValid   = "valid"
	TokenUsed    = "used" // a join token a device has joined with
	TokenExpired = "expired"
	TokenRevoked = "revoked"
)

// TokenInfo describes a token without its secret: an entry of
// GET /api/v1/tokens and the answer of DELETE /api/v1/tokens/{id}.
type TokenInfo struct {
	ID      string    `json:"id"` // the part before the dot
	Role    string    `json:"role"`
	State   string    `json:"state"` // valid, used, expired or revoked
	Created time.Time `json:"created,omitzero"`
	Expires time.Time `json:"expires,omitzero"`
}

// TokenList is the body of GET /api/v1/tokens.
type TokenList struct {
	Tokens []TokenInfo `json:"tokens"`
}

// TokenIssuer creates, lists and revokes tokens. The handlers call it from
// the request's goroutine after checking the request and the caller's
// right to it; it returns an *Error for a request it refuses, any other
// error is a 500. RevokeToken answers an *Error with status 404 for an
// unknown id; revoking a revoked token is not an error.
type TokenIssuer interface {
	CreateToken(ctx context.Context, req TokenRequest) (Token, error)
	ListTokens(ctx context.Context) ([]TokenInfo, error)
	// RevokeToken revokes the token id if allow accepts its role (a
	// TokenRequest role); else it returns allow's error.
	RevokeToken(ctx context.Context, id string, allow func(role string) error) (TokenInfo, error)
}

// maxTTL bounds token lifetimes (and keeps the arithmetic far from
// overflow).
const maxTTL = 10 * 365 * 24 * time.Hour

// DecodeTokenRequest parses and checks a POST /api/v1/tokens body:
// {"role": "agent", "ttl": "15m"}. Unknown fields, trailing data, a bad
// role or a bad duration are errors naming the field.
func DecodeTokenRequest(r io.Reader) (TokenRequest, error) {
	var body struct {
		Role string `json:"role"`
		TTL  string `json:"ttl"`
	}
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		return TokenRequest{}, bodyError(err)
	}
	if dec.More() {
		return TokenRequest{}, Errorf(http.StatusBadRequest, "", "request body: more than one JSON value")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return TokenRequest{}, Errorf(http.StatusBadRequest, "", "request body: data after the JSON object")
	}
	req := TokenRequest{Role: body.Role}
	switch body.Role {
	case TokenAgent, TokenGateway, TokenOperator, TokenViewer, TokenAdmin:
	case "":
		return req, Errorf(http.StatusBadRequest, "role", "required: agent, gateway, operator or viewer")
	default:
		return req, Errorf(http.StatusBadRequest, "role", "%q: want agent, gateway, operator or viewer", body.Role)
	}
	if body.TTL != "" {
		d, err := time.ParseDuration(body.TTL)
		if err != nil || d <= 0 || d > maxTTL {
			return req, Errorf(http.StatusBadRequest, "ttl", "%q: want a positive duration up to 87600h, like 15m or 24h", body.TTL)
		}
		req.TTL = d
	}
	return req, nil
}

// bodyError turns a JSON decoding error into a 400 naming the field.
func bodyError(err error) error {
	var te *json.UnmarshalTypeError
	var me *http.MaxBytesError
	switch {
	case errors.As(err, &te):
		return Errorf(http.StatusBadRequest, te.Field, "want a %s, got a JSON %s", te.Type, te.Value)
	case errors.As(err, &me):
		return Errorf(http.StatusRequestEntityTooLarge, "", "request body larger than %d bytes", me.Limit)
	case errors.Is(err, io.EOF):
		return Errorf(http.StatusBadRequest, "", "request body: empty, want a JSON object")
	}
	msg := err.Error()
	if f, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
		return Errorf(http.StatusBadRequest, strings.Trim(f, `"`), "unknown field")
	}
	return Errorf(http.StatusBadRequest, "", "request body: %s", strings.TrimPrefix(msg, "json: "))
}

func (s *Server) createToken(w http.ResponseWriter, r *http.Request, caller Role) error {
	if s.cfg.Tokens == nil {
		return Errorf(http.StatusNotImplemented, "", "this server does not issue tokens")
	}
	req, err := DecodeTokenRequest(r.Body)
	if err != nil {
		return err
	}
	if !req.IsJoin() && !caller.Allows(Role(req.Role)) {
		return Errorf(http.StatusForbidden, "role", "a %s token may not create a %s token", caller, req.Role)
	}
	req.Host = r.Host
	if h, _, err := net.SplitHostPort(r.Host); err == nil {
		req.Host = h
	}
	tok, err := s.cfg.Tokens.CreateToken(r.Context(), req)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, tok)
	return nil
}

// String shows the request for logs.
func (t TokenRequest) String() string {
	return fmt.Sprintf("role=%s ttl=%s host=%s", t.Role, t.TTL, t.Host)
}

func (s *Server) listTokens(w http.ResponseWriter, r *http.Request, _ Role) error {
	if s.cfg.Tokens == nil {
		return Errorf(http.StatusNotImplemented, "", "this server does not issue tokens")
	}
	list, err := s.cfg.Tokens.ListTokens(r.Context())
	if err != nil {
		return err
	}
	if list == nil {
		list = []TokenInfo{}
	}
	sort.Slice(list, func(i, j int) bool {
		if !list[i].Created.Equal(list[j].Created) {
			return list[i].Created.Before(list[j].Created)
		}
		return list[i].ID < list[j].ID
	})
	writeJSON(w, http.StatusOK, TokenList{Tokens: list})
	return nil
}

// tokenIDRE is the form of a token's id: the part before the dot.
var tokenIDRE = regexp.MustCompile(`^[a-z0-9]{6}$`)

func (s *Server) revokeToken(w http.ResponseWriter, r *http.Request, caller Role) error {
	if s.cfg.Tokens == nil {
		return Errorf(http.StatusNotImplemented, "", "this server does not issue tokens")
	}
	id := r.PathValue("id")
	if !tokenIDRE.MatchString(id) {
		return Errorf(http.StatusBadRequest, "id", "%q: want a token id, the 6 characters before the dot", id)
	}
	info, err := s.cfg.Tokens.RevokeToken(r.Context(), id, func(role string) error {
		if role == TokenAgent || role == TokenGateway || caller.Allows(Role(role)) {
			return nil
		}
		return Errorf(http.StatusForbidden, "", "%s tokens may not revoke %s tokens", caller, role)
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, info)
	return nil
}
