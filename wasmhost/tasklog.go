package wasmhost

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"
	"unicode/utf8"
)

// maxLogLine is the longest log line a task can write; longer lines are cut
// into pieces of this size.
const maxLogLine = 4096

// logLineCost is what a line costs against the log rate beyond its own
// bytes: the rest of its record (time, level, component, task id). Without
// it empty lines would be free and a task could flood the log with them.
const logLineCost = 64

// taskLog turns a task's log calls and its stdout/stderr into log lines
// through the task logger, bounded by limits.logRate bytes per second
// (bursts up to one second's worth); each line counts its length plus
// logLineCost. Lines beyond it are dropped and
// counted; the next line that passes is preceded by a note of how many were
// dropped. Used from the instance's call goroutine only, except Dropped.
type taskLog struct {
	base    *slog.Logger
	task    string
	logger  *slog.Logger // base with the task's attributes, made on first use
	clock   func() time.Time
	bucket  tokenBucket
	dropped atomic.Uint64
	pending uint64 // dropped since the last note
}

func newTaskLog(base *slog.Logger, task string, rate float64, clock func() time.Time) *taskLog {
	return &taskLog{base: base, task: task, clock: clock, bucket: newTokenBucket(rate, rate, clock())}
}

// line logs one line at level, or drops it past the rate.
func (l *taskLog) line(level slog.Level, msg []byte, stream string) {
	if !l.bucket.take(float64(len(msg)+logLineCost), l.clock()) {
		l.dropped.Add(1)
		l.pending++
		return
	}
	ctx := context.Background()
	if l.logger == nil {
		l.logger = l.base.With("component", "task", "task", l.task)
	}
	if l.pending > 0 {
		l.logger.Log(ctx, slog.LevelWarn, "log lines dropped: log rate limit", "dropped", l.pending)
		l.pending = 0
	}
	if !l.logger.Enabled(ctx, level) {
		return
	}
	s := string(msg)
	if !utf8.ValidString(s) {
		s = string([]rune(s)) // replaces invalid bytes with U+FFFD
	}
	if stream != "" {
		l.logger.Log(ctx, level, s, "stream", stream)
	} else {
		l.logger.Log(ctx, level, s)
	}
}

// levelOf maps the ABI's log levels to slog levels.
func levelOf(level int32) slog.Level {
	switch level {
	case 0:
		return slog.LevelDebug
	case 1:
		return slog.LevelInfo
	case 2:
		return slog.LevelWarn
	default:
		return slog.LevelError
	}
}

// streamWriter is an io.Writer for a task's stdout or stderr: it splits
// what the task writes into lines and logs each through the taskLog.
type streamWriter struct {
	log    *taskLog
	level  slog.Level
	stream string
	buf    []byte
}

func (w *streamWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		i := indexNewline(p)
		if i < 0 {
			room := maxLogLine - len(w.buf)
			if len(p) < room {
				w.buf = append(w.buf, p...)
				return n, nil
			}
			w.buf = append(w.buf, p[:room]...)
			p = p[room:]
			w.flush()
			continue
		}
		chunk := p[:i]
		p = p[i+1:]
		for len(w.buf)+len(chunk) > maxLogLine {
			room := maxLogLine - len(w.buf)
			w.buf = append(w.buf, chunk[:room]...)
			chunk = chunk[room:]
			w.flush()
		}
		w.buf = append(w.buf, chunk...)
		w.flush()
	}
	return n, nil
}

// flush logs what is buffered as one line (carriage returns trimmed).
func (w *streamWriter) flush() {
	b := w.buf
	if len(b) > 0 && b[len(b)-1] == '\r' {
		b = b[:len(b)-1]
	}
	if len(b) > 0 {
		w.log.line(w.level, b, w.stream)
	}
	w.buf = w.buf[:0]
}

func indexNewline(p []byte) int {
	for i, c := range p {
		if c == '\n' {
			return i
		}
	}
	return -1
}
