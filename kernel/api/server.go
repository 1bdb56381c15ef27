package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strings"
)

// Authenticator checks bearer tokens. The handlers call it from the
// request's goroutine, once per request. It returns the token's role, or
// ErrUnauthenticated / ErrTokenExpired / ErrTokenRevoked (wrapped or not) for a token it
// does not accept; any other error is a 500.
type Authenticator interface {
	Authenticate(ctx context.Context, token string) (Role, error)
}

// Config is what the API serves. Auth is required; a nil Tokens or Nodes
// makes their endpoints answer 501, a nil Metrics makes /metrics 404.
type Config struct {
	Auth   Authenticator
	Tokens TokenIssuer
	Nodes  NodeLister
	// NodeDeleter serves DELETE /api/v1/nodes/{name}; nil answers 501.
	NodeDeleter NodeDeleter
	// Metrics serves /metrics (Prometheus text format), without a token.
	Metrics http.Handler
	// Ready reports whether the controller can serve; nil means ready.
	// /readyz answers 503 with its error otherwise.
	Ready func(ctx context.Context) error
	// Logger receives one line per failed request (5xx at warn, 4xx at
	// debug); nil discards.
	Logger *slog.Logger
}

// Validate reports every problem with the configuration.
func (c *Config) Validate() error {
	if c.Auth == nil {
		return errors.New("api: Auth is required")
	}
	return nil
}

// Server is the API's http.Handler. Safe for concurrent use.
type Server struct {
	cfg    Config
	log    *slog.Logger
	mux    *http.ServeMux
	routes map[string]map[string]route // path pattern -> method -> route
}

// route is one endpoint: the least role it needs ("" means no token) and
// its handler.
type route struct {
	min Role
	h   handler
}

// maxBody bounds request bodies; the API takes small JSON documents.
const maxBody = 1 << 20

// New checks cfg and builds the handler.
func New(cfg Config) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{cfg: cfg, log: log.With("component", "api"), mux: http.NewServeMux(), routes: map[string]map[string]route{}}
	s.route("/healthz", http.MethodGet, "", s.healthz)
	s.route("/readyz", http.MethodGet, "", s.readyz)
	if cfg.Metrics != nil {
		s.mux.Handle("/metrics", cfg.Metrics)
	}
	s.route("/api/v1/tokens", http.MethodPost, RoleOperator, s.createToken)
	s.route("/api/v1/tokens", http.MethodGet, RoleOperator, s.listTokens)
	s.route("/api/v1/tokens/{id}", http.MethodDelete, RoleOperator, s.revokeToken)
	s.route("/api/v1/nodes", http.MethodGet, RoleViewer, s.listNodes)
	s.route("/api/v1/nodes/{name}", http.MethodGet, RoleViewer, s.getNode)
	s.route("/api/v1/nodes/{name}", http.MethodDelete, RoleOperator, s.deleteNode)
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.fail(w, r, Errorf(http.StatusNotFound, "", "no such endpoint: %s", r.URL.Path))
	})
	return s, nil
}

// ServeHTTP serves one request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// handler serves an authorized request; it returns the error to send.
type handler func(w http.ResponseWriter, r *http.Request, caller Role) error

// route registers h at path (a ServeMux pattern without a method) for
// method, requiring a token of role min ("" means no token). A path's
// other methods answer 405 naming the allowed ones.
func (s *Server) route(path, method string, min Role, h handler) {
	methods, seen := s.routes[path]
	if !seen {
		methods = map[string]route{}
		s.routes[path] = methods
		s.mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) { s.serve(w, r, path, methods) })
	}
	methods[method] = route{min: min, h: h}
}

// serve dispatches a request for path to the route of its method.
func (s *Server) serve(w http.ResponseWriter, r *http.Request, path string, methods map[string]route) {
	rt, ok := methods[r.Method]
	if !ok && r.Method == http.MethodHead {
		rt, ok = methods[http.MethodGet]
	}
	if !ok {
		allowed := slices.Sorted(maps.Keys(methods))
		w.Header().Set("Allow", strings.Join(allowed, ", "))
		s.fail(w, r, Errorf(http.StatusMethodNotAllowed, "", "method %s not allowed on %s, use %s", r.Method, path, strings.Join(allowed, " or ")))
		return
	}
	var caller Role
	if rt.min != "" {
		var err error
		if caller, err = s.authorize(r, rt.min); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	if err := rt.h(w, r, caller); err != nil {
		s.fail(w, r, err)
	}
}

// authorize checks the bearer token and that its role allows min.
func (s *Server) authorize(r *http.Request, min Role) (Role, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return "", Errorf(http.StatusUnauthorized, "", "missing bearer token: send Authorization: Bearer TOKEN")
	}
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
		return "", Errorf(http.StatusUnauthorized, "", "malformed Authorization header: want Bearer TOKEN")
	}
	role, err := s.cfg.Auth.Authenticate(r.Context(), strings.TrimSpace(tok))
	switch {
	case errors.Is(err, ErrTokenExpired):
		return "", Errorf(http.StatusUnauthorized, "", "token expired")
	case errors.Is(err, ErrTokenRevoked):
		return "", Errorf(http.StatusUnauthorized, "", "token revoked")
	case errors.Is(err, ErrUnauthenticated):
		return "", Errorf(http.StatusUnauthorized, "", "token not accepted")
	case err != nil:
		return "", fmt.Errorf("authenticate: %w", err)
	}
	if !role.Allows(min) {
		return "", Errorf(http.StatusForbidden, "", "a %s token may not do this; it needs %s", role, min)
	}
	return role, nil
}

func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	var e *Error
	if errors.As(err, &e) && e.Status < 500 {
		s.log.Debug("request refused", "method", r.Method, "path", r.URL.Path, "err", err)
	} else {
		s.log.Warn("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	writeError(w, err)
}

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request, _ Role) error {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request, _ Role) error {
	if s.cfg.Ready != nil {
		if err := s.cfg.Ready(r.Context()); err != nil {
			return Errorf(http.StatusServiceUnavailable, "", "not ready: %v", err)
		}
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	return nil
}
