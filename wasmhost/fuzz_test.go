package wasmhost

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/canopy-fleet/canopy/kernel"
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
		if err.Error() == "" || strings.Contains(err.Error(), "\n") {
			t.Fatalf("error %q: want one line", err)
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

// FuzzHostCalls: any arguments to any host function return a result (a
// length or an ABI error code) and never trap; a -4 leaves guest memory as
// it was.
func FuzzHostCalls(f *testing.F) {
	f.Add(uint8(0), uint32(0), uint32(1), uint32(16), uint32(4))
	f.Add(uint8(1), uint32(0xFFFFFFF0), uint32(0x20), uint32(0), uint32(0))
	f.Add(uint8(2), uint32(1024), uint32(3), uint32(2048), uint32(64))
	f.Add(uint8(3), uint32(65536), uint32(65536), uint32(1), uint32(1))
	f.Add(uint8(4), uint32(100), uint32(0), uint32(0x80000000), uint32(0x80000000))
	h := newHost(f)
	inst := start(f, h, "guest", TaskConfig{ID: "fuzz", Publish: []string{"#"}, Publisher: &published{},
		Config: map[string]string{"k": "v"}, Limits: kernel.Limits{PublishRate: 1 << 20}})
	names := []string{"call_publish", "call_kv_get", "call_kv_set", "call_kv_delete", "call_config_get", "call_log"}
	f.Fuzz(func(t *testing.T, which uint8, a, b, c, d uint32) {
		name := names[int(which)%len(names)]
		fn := inst.wmod.ExportedFunction(name)
		args := []uint64{uint64(a), uint64(b), uint64(c), uint64(d)}[:len(fn.Definition().ParamTypes())]
		before, _ := inst.mem.Read(0, inst.mem.Size())
		before = bytes.Clone(before)
		stack := make([]uint64, 4)
		copy(stack, args)
		if err := inst.call(fn, stack); err != nil {
			t.Fatalf("%s%v trapped: %v", name, args, err)
		}
		if name == "call_log" {
			return
		}
		r := int32(stack[0])
		if r < CodeUnavailable {
			t.Fatalf("%s%v = %d: not an ABI result", name, args, r)
		}
		if r == CodeInvalidArgument {
			after, _ := inst.mem.Read(0, inst.mem.Size())
			if !bytes.Equal(before, after) {
				t.Fatalf("%s%v = -4 but guest memory changed", name, args)
			}
		}
	})
}
