package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// Error is an API error: an HTTP status, a one-line message and, when one
// request field is at fault, its name. Implementations of this package's
// interfaces return it to choose the status; any other error is a 500.
type Error struct {
	Status int    `json:"-"`
	Msg    string `json:"error"`
	Field  string `json:"field,omitempty"`
}

// Error returns the message, prefixed by the field when there is one.
func (e *Error) Error() string {
	if e.Field != "" {
		return e.Field + ": " + e.Msg
	}
	return e.Msg
}

// Errorf makes an *Error with status and a formatted message.
func Errorf(status int, field, format string, args ...any) *Error {
	if q := strconv.Quote(field); len(q) != len(field)+2 {
		field = q[1 : len(q)-1] // control characters escaped: the field stays one line
	}
	return &Error{Status: status, Field: field, Msg: oneLine(fmt.Sprintf(format, args...))}
}

// Sentinel errors an Authenticator returns.
var (
	ErrUnauthenticated = errors.New("token unknown")
	ErrTokenExpired    = errors.New("token expired")
	ErrTokenRevoked    = errors.New("token revoked")
)

func oneLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}

// writeError sends err as the JSON error object.
func writeError(w http.ResponseWriter, err error) {
	var e *Error
	if !errors.As(err, &e) {
		e = &Error{Status: http.StatusInternalServerError, Msg: oneLine(err.Error())}
	}
	if e.Status < 400 || e.Status > 599 {
		e = &Error{Status: http.StatusInternalServerError, Msg: e.Msg, Field: e.Field}
	}
	writeJSON(w, e.Status, e)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}
