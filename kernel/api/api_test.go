package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

type fakeAuth map[string]Role

func (f fakeAuth) Authenticate(_ context.Context, tok string) (Role, error) {
	if tok == "old" {
		return "", ErrTokenExpired
	}
	if tok == "broken" {
		return "", errors.New("store unreadable")
	}
	if r, ok := f[tok]; ok {
		return r, nil
	}
	return "", ErrUnauthenticated
}

type fakeIssuer struct{ got []TokenRequest }

func (f *fakeIssuer) CreateToken(_ context.Context, req TokenRequest) (Token, error) {
	f.got = append(f.got, req)
	t := Token{Token: "abcdef.0123456789abcdef", Role: req.Role}
	if req.IsJoin() {
		t.Join = &JoinInfo{Addr: req.Host + ":7443", CAHash: "sha256:00"}
	}
	return t, nil
}

func (f *fakeIssuer) ListTokens(context.Context) ([]TokenInfo, error) {
	return []TokenInfo{
		{ID: "zzzzzz", Role: "viewer", State: TokenValid, Created: time.Unix(200, 0)},
		{ID: "aaaaaa", Role: "agent", State: TokenUsed, Created: time.Unix(100, 0)},
	}, nil
}

// RevokeToken knows aaaaaa (agent) and adminn (admin).
func (f *fakeIssuer) RevokeToken(_ context.Context, id string, allow func(string) error) (TokenInfo, error) {
	roles := map[string]string{"aaaaaa": "agent", "adminn": "admin"}
	role, ok := roles[id]
	if !ok {
		return TokenInfo{}, Errorf(http.StatusNotFound, "id", "no token %s", id)
	}
	if err := allow(role); err != nil {
		return TokenInfo{}, err
	}
	return TokenInfo{ID: id, Role: role, State: TokenRevoked}, nil
}

type fakeDeleter struct{}

func (fakeDeleter) DeleteNode(_ context.Context, name string) (NodeDeletion, error) {
	switch name {
	case "ctl":
		return NodeDeletion{}, Errorf(http.StatusBadRequest, "name", "the controller cannot be deleted")
	case "gw-1":
		return NodeDeletion{Name: name, RevokedCertificates: []string{"1f"}}, nil
	}
	return NodeDeletion{}, Errorf(http.StatusNotFound, "name", "no node %q", name)
}

type fakeNodes []Node

func (f fakeNodes) Nodes(context.Context) ([]Node, error) { return append([]Node(nil), f...), nil }

func newTestServer(t *testing.T) (*Server, *fakeIssuer) {
	t.Helper()
	iss := &fakeIssuer{}
	s, err := New(Config{
		Auth:        fakeAuth{"adm": RoleAdmin, "op": RoleOperator, "view": RoleViewer},
		Tokens:      iss,
		Nodes:       fakeNodes{{Name: "gw-1", Role: "gateway", Parent: "ctl", State: StateLinked}, {Name: "ctl", Role: "controller", State: StateLinked}},
		NodeDeleter: fakeDeleter{},
		Metrics:     http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("up 1\n")) }),
		Ready:       func(context.Context) error { return nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	return s, iss
}

func TestEndpoints(t *testing.T) {
	cases := []struct {
		name, method, path, token, body string
		status                          int
		want                            string // substring of the body
		field                           string // the error's field, when an error
	}{
		{name: "healthz without token", method: "GET", path: "/healthz", status: 200, want: `"ok"`},
		{name: "readyz", method: "GET", path: "/readyz", status: 200, want: `"ready"`},
		{name: "metrics without token", method: "GET", path: "/metrics", status: 200, want: "up 1"},
		{name: "nodes as viewer, sorted", method: "GET", path: "/api/v1/nodes", token: "view", status: 200, want: `"name": "ctl"`},
		{name: "nodes without token", method: "GET", path: "/api/v1/nodes", status: 401, want: "missing bearer token"},
		{name: "nodes with a basic header", method: "GET", path: "/api/v1/nodes", token: "-Basic x", status: 401, want: "want Bearer TOKEN"},
		{name: "nodes with an unknown token", method: "GET", path: "/api/v1/nodes", token: "nope", status: 401, want: "token not accepted"},
		{name: "nodes with an expired token", method: "GET", path: "/api/v1/nodes", token: "old", status: 401, want: "token expired"},
		{name: "auth store failing", method: "GET", path: "/api/v1/nodes", token: "broken", status: 500, want: "store unreadable"},
		{name: "nodes by POST", method: "POST", path: "/api/v1/nodes", token: "view", status: 405, want: "use GET"},
		{name: "unknown endpoint", method: "GET", path: "/api/v1/nope", token: "view", status: 404, want: "no such endpoint"},
		{name: "join token as operator", method: "POST", path: "/api/v1/tokens", token: "op", body: `{"role":"agent","ttl":"10m"}`, status: 201, want: `"addr": "example.test:7443"`},
		{name: "gateway token as admin", method: "POST", path: "/api/v1/tokens", token: "adm", body: `{"role":"gateway"}`, status: 201, want: `"caHash"`},
		{name: "viewer token as operator", method: "POST", path: "/api/v1/tokens", token: "op", body: `{"role":"viewer"}`, status: 201, want: `"role": "viewer"`},
		{name: "admin token as operator", method: "POST", path: "/api/v1/tokens", token: "op", body: `{"role":"admin"}`, status: 403, field: "role"},
		{name: "token as viewer", method: "POST", path: "/api/v1/tokens", token: "view", body: `{"role":"agent"}`, status: 403, want: "needs operator"},
		{name: "bad role", method: "POST", path: "/api/v1/tokens", token: "op", body: `{"role":"root"}`, status: 400, field: "role"},
		{name: "no role", method: "POST", path: "/api/v1/tokens", token: "op", body: `{}`, status: 400, field: "role"},
		{name: "bad ttl", method: "POST", path: "/api/v1/tokens", token: "op", body: `{"role":"agent","ttl":"soon"}`, status: 400, field: "ttl"},
		{name: "negative ttl", method: "POST", path: "/api/v1/tokens", token: "op", body: `{"role":"agent","ttl":"-1m"}`, status: 400, field: "ttl"},
		{name: "ttl as a number", method: "POST", path: "/api/v1/tokens", token: "op", body: `{"role":"agent","ttl":60}`, status: 400, field: "ttl"},
		{name: "unknown field", method: "POST", path: "/api/v1/tokens", token: "op", body: `{"role":"agent","rol":"x"}`, status: 400, field: "rol"},
		{name: "empty body", method: "POST", path: "/api/v1/tokens", token: "op", status: 400, want: "empty"},
		{name: "two objects", method: "POST", path: "/api/v1/tokens", token: "op", body: `{"role":"agent"}{}`, status: 400, want: "more than one"},
		{name: "tokens listed, oldest first", method: "GET", path: "/api/v1/tokens", token: "op", status: 200, want: `"id": "aaaaaa",
      "role": "agent",
      "state": "used"`},
		{name: "tokens as viewer", method: "GET", path: "/api/v1/tokens", token: "view", status: 403, want: "needs operator"},
		{name: "tokens by PUT", method: "PUT", path: "/api/v1/tokens", token: "op", status: 405, want: "use GET or POST"},
		{name: "revoke a join token", method: "DELETE", path: "/api/v1/tokens/aaaaaa", token: "op", status: 200, want: `"state": "revoked"`},
		{name: "revoke an admin token as operator", method: "DELETE", path: "/api/v1/tokens/adminn", token: "op", status: 403, want: "operator tokens may not revoke admin tokens"},
		{name: "revoke an admin token as admin", method: "DELETE", path: "/api/v1/tokens/adminn", token: "adm", status: 200, want: `"state": "revoked"`},
		{name: "revoke an unknown token", method: "DELETE", path: "/api/v1/tokens/bbbbbb", token: "op", status: 404, field: "id"},
		{name: "revoke a whole token", method: "DELETE", path: "/api/v1/tokens/aaaaaa.0123456789abcdef", token: "op", status: 400, field: "id"},
		{name: "revoke as viewer", method: "DELETE", path: "/api/v1/tokens/aaaaaa", token: "view", status: 403},
		{name: "one node", method: "GET", path: "/api/v1/nodes/gw-1", token: "view", status: 200, want: `"parent": "ctl"`},
		{name: "one unknown node", method: "GET", path: "/api/v1/nodes/pi-9", token: "view", status: 404, field: "name"},
		{name: "delete a node", method: "DELETE", path: "/api/v1/nodes/gw-1", token: "op", status: 200, want: `"revokedCertificates": [
    "1f"`},
		{name: "delete the controller", method: "DELETE", path: "/api/v1/nodes/ctl", token: "op", status: 400, field: "name"},
		{name: "delete an unknown node", method: "DELETE", path: "/api/v1/nodes/pi-9", token: "op", status: 404, field: "name"},
		{name: "delete a node as viewer", method: "DELETE", path: "/api/v1/nodes/gw-1", token: "view", status: 403},
		{name: "huge body", method: "POST", path: "/api/v1/tokens", token: "op", body: `{"role":"` + strings.Repeat("a", maxBody) + `"}`, status: 413},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, _ := newTestServer(t)
			req := httptest.NewRequest(c.method, "https://example.test:7070"+c.path, strings.NewReader(c.body))
			if h, ok := strings.CutPrefix(c.token, "-"); ok {
				req.Header.Set("Authorization", h)
			} else if c.token != "" {
				req.Header.Set("Authorization", "Bearer "+c.token)
			}
			rec := httptest.NewRecorder()
			s.ServeHTTP(rec, req)
			body := rec.Body.String()
			if rec.Code != c.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, c.status, body)
			}
			if c.want != "" && !strings.Contains(body, c.want) {
				t.Fatalf("body %s does not contain %q", body, c.want)
			}
			if c.status >= 400 {
				var e struct{ Error, Field string }
				if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Error == "" || strings.Contains(e.Error, "\n") {
					t.Fatalf("error body %q is not a one-line JSON error (%v)", body, err)
				}
				if e.Field != c.field {
					t.Fatalf("field %q, want %q (%s)", e.Field, c.field, body)
				}
			}
		})
	}
}

func TestTokenRequestReachesIssuer(t *testing.T) {
	s, iss := newTestServer(t)
	req := httptest.NewRequest("POST", "https://example.com:7070/api/v1/tokens", strings.NewReader(`{"role":"gateway","ttl":"2h"}`))
	req.Header.Set("Authorization", "Bearer op")
	s.ServeHTTP(httptest.NewRecorder(), req)
	if len(iss.got) != 1 || iss.got[0].Role != "gateway" || iss.got[0].TTL != 2*time.Hour || iss.got[0].Host != "example.com" {
		t.Fatalf("issuer got %+v", iss.got)
	}
}

func TestNotReady(t *testing.T) {
	s, err := New(Config{Auth: fakeAuth{}, Ready: func(context.Context) error { return errors.New("mesh not listening") }})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
	if rec.Code != 503 || !strings.Contains(rec.Body.String(), "mesh not listening") {
		t.Fatalf("readyz: %d %s", rec.Code, rec.Body)
	}
	rec = httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/api/v1/nodes", nil)
	req.Header.Set("Authorization", "Bearer x")
	s.ServeHTTP(rec, req)
	if rec.Code != 401 {
		t.Fatalf("unknown token with no node lister: %d", rec.Code)
	}
	if _, err := New(Config{}); err == nil {
		t.Fatal("config without Auth accepted")
	}
}

func FuzzDecodeTokenRequest(f *testing.F) {
	for _, s := range []string{`{"role":"agent","ttl":"15m"}`, `{}`, `{"role":1}`, `[`, `{"role":"viewer"} x`, `{"ttl":"9999999h"}`, "{\"a\\nb\":1}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		req, err := DecodeTokenRequest(strings.NewReader(s))
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Status < 400 || strings.Contains(e.Error(), "\n") {
				t.Fatalf("error %v is not a one-line API error", err)
			}
			return
		}
		if req.Role == "" || req.TTL < 0 || req.TTL > maxTTL {
			t.Fatalf("accepted %+v from %q", req, s)
		}
	})
}
