package quicnet

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

// A flood of refusals makes one log line per warnEvery; the next line
// says how many were left out.
func TestWarnLimiter(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	var w warnLimiter
	for range 1000 {
		w.warn(log, "refused peer", "err", "certificate revoked")
	}
	if n := strings.Count(buf.String(), "refused peer"); n != 1 {
		t.Fatalf("%d lines for 1,000 refusals within %s, want 1", n, warnEvery)
	}
	w.last = w.last.Add(-warnEvery) // the interval passed
	w.warn(log, "refused peer", "err", "certificate revoked")
	if !strings.Contains(buf.String(), "more_since_last_line=999") {
		t.Fatalf("the next line does not count the ones left out:\n%s", buf.String())
	}
}
