package wasmhost

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// FuzzLoad: Load on arbitrary bytes returns a module or a one-line error;
// it never panics.
func FuzzLoad(f *testing.F) {
	g := module(f, "guest")
	f.Add([]byte{})
	f.Add([]byte("\x00asm\x01\x00\x00\x00"))
	f.Add(g[:64])
	f.Add(module(f, "bad_noabi"))
	f.Add(module(f, "bad_import"))
	f.Add(module(f, "bench"))
	f.Add(startSectionModule)
	h := newHost(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := h.Load(context.Background(), b)
		if err == nil {
			m.Close(context.Background())
			return
		}
		if err.Error() == "" {
			t.Fatal("empty error")
		}
	})
}

// FuzzReadImports: the import-section reader never panics and never reads
// past its input.
func FuzzReadImports(f *testing.F) {
	f.Add(module(f, "bad_import"))
	f.Add(module(f, "guest")[:200])
	f.Add([]byte("\x00asm\x01\x00\x00\x00\x02\x05\x01\x01a\x01b"))
	f.Fuzz(func(t *testing.T, b []byte) {
		imps, err := readImports(b)
		if err != nil && imps != nil {
			t.Fatal("imports and an error")
		}
	})
}

// FuzzStreamWriter: whatever a task writes to stdout, the log lines are the
// written text split at newlines (and at maxLogLine), nothing lost or added.
func FuzzStreamWriter(f *testing.F) {
	f.Add([]byte("hello\nworld\n"), 3)
	f.Add([]byte("no newline"), 1)
	f.Add(bytes.Repeat([]byte("x"), 3*maxLogLine+5), 7)
	f.Add([]byte("\r\n\n\r\n"), 2)
	f.Fuzz(func(t *testing.T, data []byte, chunk int) {
		logs := &logLines{}
		tl := newTaskLog(slogger(logs), "fuzz", 1e12, time.Now)
		w := &streamWriter{log: tl, level: slog.LevelInfo}
		if chunk <= 0 {
			chunk = 1
		}
		for p := data; len(p) > 0; {
			n := min(chunk, len(p))
			if k, err := w.Write(p[:n]); k != n || err != nil {
				t.Fatalf("Write = %d, %v", k, err)
			}
			p = p[n:]
		}
		w.flush()
		var got []byte
		for _, l := range logs.lines {
			msg := strings.TrimPrefix(l, "INFO ")
			if len(msg) > maxLogLine && utf8.Valid(data) { // invalid bytes become 3-byte U+FFFD
				t.Fatalf("line of %d bytes", len(msg))
			}
			got = append(got, msg...)
		}
		want := bytes.ReplaceAll(bytes.ReplaceAll(data, []byte("\r\n"), []byte("\n")), []byte("\n"), nil)
		if !utf8.Valid(want) || bytes.ContainsRune(data, '\r') {
			return // invalid UTF-8 is replaced; lone CRs are trimmed at line ends
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("logged %q, wrote %q", got, data)
		}
	})
}
