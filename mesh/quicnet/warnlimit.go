package quicnet

import (
	"log/slog"
	"sync"
	"time"
)

// warnEvery is the least time between two log lines of one kind of
// refusal; the refusals in between are counted into the next line, so a
// flood of bad handshakes cannot flood the log.
const warnEvery = 10 * time.Second

// warnLimiter logs one kind of refusal at most once per warnEvery. Safe
// for concurrent use; the zero value is ready.
type warnLimiter struct {
	mu         sync.Mutex
	last       time.Time
	suppressed int
}

// warn logs msg with args, or counts it when a line was written less than
// warnEvery ago.
func (w *warnLimiter) warn(log *slog.Logger, msg string, args ...any) {
	w.mu.Lock()
	now := time.Now()
	if !w.last.IsZero() && now.Sub(w.last) < warnEvery {
		w.suppressed++
		w.mu.Unlock()
		return
	}
	w.last = now
	n := w.suppressed
	w.suppressed = 0
	w.mu.Unlock()
	if n > 0 {
		args = append(args, "more_since_last_line", n)
	}
	log.Warn(msg, args...)
}
