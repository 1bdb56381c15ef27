package broker

import (
	"context"
	"log/slog"
	"strings"
)

// closedConnFilter demotes mochi's warnings about reading from a connection
// that was already closed — what it logs for every client still connected
// when the broker shuts down — to debug: they are the shutdown itself, not a
// problem an operator must look at.
type closedConnFilter struct{ slog.Handler }

func (h closedConnFilter) Handle(ctx context.Context, r slog.Record) error {
	if r.Level == slog.LevelWarn && closedConn(r) {
		r = slog.NewRecord(r.Time, slog.LevelDebug, r.Message, r.PC)
		if !h.Handler.Enabled(ctx, slog.LevelDebug) {
			return nil
		}
	}
	return h.Handler.Handle(ctx, r)
}

func (h closedConnFilter) WithAttrs(as []slog.Attr) slog.Handler {
	return closedConnFilter{h.Handler.WithAttrs(as)}
}

func (h closedConnFilter) WithGroup(name string) slog.Handler {
	return closedConnFilter{h.Handler.WithGroup(name)}
}

func closedConn(r slog.Record) bool {
	found := false
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "error" && strings.Contains(a.Value.String(), "use of closed network connection") {
			found = true
			return false
		}
		return true
	})
	return found
}
