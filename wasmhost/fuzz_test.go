package wasmhost

import (
	"context"
	"testing"
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
