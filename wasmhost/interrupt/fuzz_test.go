package interrupt

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"
)

// compileChecker holds the property the fuzz test checks for one input:
// Instrument never panics, its errors are one line, its output stays within
// a bound of the input's size, and when it accepts a module that wazero
// (default features) compiles, wazero compiles the output too.
type compileChecker struct {
	rt wazero.Runtime
}

func newCompileChecker(t testing.TB) *compileChecker {
	ctx := context.Background()
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigCompiler())
	t.Cleanup(func() { rt.Close(ctx) })
	return &compileChecker{rt: rt}
}

// compiles reports whether wazero compiles wasm. wazero v1.12 panics on some
// malformed modules; a panic counts as not compiling.
func (c *compileChecker) compiles(wasm []byte) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("wazero panicked: %v", p)
		}
	}()
	ctx := context.Background()
	m, err := c.rt.CompileModule(ctx, wasm)
	if err != nil {
		return err
	}
	return m.Close(ctx)
}

func (c *compileChecker) check(t *testing.T, wasm []byte) {
	t.Helper()
	out, err := Instrument(wasm)
	if err != nil {
		// Rejected input is not given to wazero: v1.12 allocates by counts
		// it has not checked and can die of a few malformed bytes (such
		// inputs are among the regression seeds), which is one reason the
		// runtime instruments before it compiles.
		if strings.Contains(err.Error(), "\n") {
			t.Fatalf("error is not one line: %q", err)
		}
		return
	}
	if len(out) > 20*len(wasm)+256 {
		t.Fatalf("output of %d bytes for %d bytes of input", len(out), len(wasm))
	}
	if c.compiles(wasm) != nil {
		return
	}
	if err := c.compiles(out); err != nil {
		t.Fatalf("wazero compiles the input but not the instrumented output: %v", err)
	}
}

func FuzzInstrument(f *testing.F) {
	f.Add(loopsModule())
	f.Add(testModule{}.bytes())
	f.Add(testModule{
		types:   [][]byte{functype(nil, nil), functype([]byte{tI32, tI32}, []byte{tI32, tI32})},
		memory:  []byte{0x00, 0x01},
		globals: [][]byte{{tI32, 0x01, 0x41, 0x00, 0x0b}, {0x7b, 0x00, 0xfd, 0x0c, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 0x0b}},
		funcs: []testFunc{
			{typ: 1, export: "swap", body: []byte{0x03, 0x01, 0x1a, 0x1a, 0x20, 0x01, 0x20, 0x00, 0x0b}}, // loop (type 1)
			{typ: 0, body: []byte{
				0x41, 0x00, 0x41, 0x00, 0x41, 0x10, 0xfc, 0x0b, 0x00, // memory.fill
				0x41, 0x00, 0xfd, 0x00, 0x04, 0x00, 0x1a, // v128.load, drop
				0x41, 0x00, 0x0e, 0x02, 0x00, 0x00, 0x00, // br_table
			}},
		},
	}.bytes())
	f.Add([]byte("\x00asm\x01\x00\x00\x00\x01\x04\x01\x60\x00\x00"))
	// A table with an active element segment, a data segment and a name
	// section with function and local names.
	withSegments := testModule{
		types:  [][]byte{functype(nil, nil)},
		memory: []byte{0x00, 0x01},
		funcs:  []testFunc{{typ: 0, export: "f", locals: []byte{1, 1, tI32}, body: []byte{0x41, 0x00, 0x11, 0x00, 0x00}}},
		custom: [][]byte{cat([]byte{4}, []byte("name"),
			[]byte{0x01, 0x04, 0x01, 0x00, 0x01, 'f'},               // function 0 is "f"
			[]byte{0x02, 0x06, 0x01, 0x00, 0x01, 0x00, 0x01, 'x'})}, // its local 0 is "x"
	}.bytes()
	withSegments = insertSection(f, withSegments, 4, []byte{0x01, 0x70, 0x00, 0x01})                             // table funcref min 1
	withSegments = insertSection(f, withSegments, 9, []byte{0x01, 0x00, 0x41, 0x00, 0x0b, 0x01, 0x00})           // elem: table[0] = f
	withSegments = insertSection(f, withSegments, 11, []byte{0x01, 0x00, 0x41, 0x08, 0x0b, 0x03, 'a', 'b', 'c'}) // data at 8
	if c := newCompileChecker(f); c.compiles(withSegments) != nil {
		f.Fatalf("seed with segments does not compile: %v", c.compiles(withSegments))
	}
	f.Add(withSegments)
	c := newCompileChecker(f)
	f.Fuzz(func(t *testing.T, wasm []byte) {
		c.check(t, wasm)
	})
}
