package broker

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
)

func TestClosedConnWarningsDemoted(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(closedConnFilter{slog.NewTextHandler(&buf, nil)})
	log.Warn("", "listener", "tcp", "error", errors.New("read tcp 127.0.0.1:1883->127.0.0.1:5: use of closed network connection"))
	if buf.Len() != 0 {
		t.Fatalf("closed-connection warning logged at info level: %s", buf.String())
	}
	log.Warn("", "error", errors.New("connection reset by peer"))
	if !strings.Contains(buf.String(), "connection reset") {
		t.Fatalf("other warnings must pass: %q", buf.String())
	}
	buf.Reset()
	dbg := slog.New(closedConnFilter{slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})})
	dbg.Warn("", "error", errors.New("use of closed network connection"))
	if !strings.Contains(buf.String(), "level=DEBUG") {
		t.Fatalf("want the warning at debug level: %q", buf.String())
	}
}
