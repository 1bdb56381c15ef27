package interrupt

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"
)

// sections lists the (id, custom name) of each section of a module the test
// trusts to be well formed.
func sections(t *testing.T, wasm []byte) []string {
	t.Helper()
	var out []string
	r := reader{b: wasm, pos: 8, end: len(wasm)}
	for !r.done() {
		id, _ := r.readByte()
		size, err := r.u32()
		if err != nil {
			t.Fatal(err)
		}
		body, err := r.sub(size)
		if err != nil {
			t.Fatal(err)
		}
		name := sectionNames[id]
		if id == secCustom {
			n, err := body.name()
			if err != nil {
				t.Fatal(err)
			}
			name = "custom:" + string(n)
		}
		out = append(out, name)
	}
	return out
}

func TestInstrumentCheckPlacement(t *testing.T) {
	wasm := testModule{
		types: [][]byte{functype(nil, nil)},
		funcs: []testFunc{
			{typ: 0, export: "spin", body: []byte{0x03, 0x40, 0x0c, 0x00, 0x0b}},
			{typ: 0, locals: []byte{1, 2, tI32}, body: []byte{0x02, 0x40, 0x03, tI32, 0x41, 0x01, 0x0c, 0x01, 0x0b, 0x1a, 0x0b}},
			{typ: 0, body: []byte{0x10, 0x00}},
		},
	}.bytes()
	out, err := Instrument(wasm)
	if err != nil {
		t.Fatal(err)
	}
	m := &module{form: formDefault} // no imported or defined globals: flag 0, ticks 1
	spin := &plan{loops: true, counter: 0, bt: []byte{0x40}, bodyBlock: true}
	second := &plan{loops: true, counter: 2, bt: []byte{0x40}, bodyBlock: true}
	caller := &plan{calls: true, bt: []byte{0x40}, entryLoop: true, bodyBlock: true, weight: 1, depth: true}
	want := [][]byte{
		// spin has no parameters and no locals: its loop counter is local 0.
		cat([]byte{0x01, 0x01, tI32}, m.bodyPrologue(nil, spin), m.loopPrologue(nil, []byte{0x03, 0x40}, 0, 1),
			[]byte{0x0c, 0x00, 0x0b}, m.loopEpilogue(nil, 0), m.bodyEpilogue(nil, spin), []byte{0x0b}),
		// The second function has two i32 locals: its counter is local 2. The
		// br 1 out of the loop now crosses the three wrapper labels.
		cat([]byte{2, 2, tI32, 1, tI32}, m.bodyPrologue(nil, second), []byte{0x02, 0x40},
			m.loopPrologue(nil, []byte{0x03, tI32}, 2, 1), []byte{0x41, 0x01, 0x0c, 0x04, 0x0b}, m.loopEpilogue(nil, 2),
			[]byte{0x1a, 0x0b}, m.bodyEpilogue(nil, second), []byte{0x0b}),
		// The third calls but has no loop: its entries are counted in global 1
		// and move the call depth, global 2.
		cat([]byte{0}, m.bodyPrologue(nil, caller), []byte{0x10, 0x00}, m.bodyEpilogue(nil, caller), []byte{0x0b}),
	}
	// Spot-check the helpers against the documented sequences.
	if got := m.bodyPrologue(nil, spin); !bytes.Equal(got, []byte{0x23, 0x01, 0x21, 0x00, 0x02, 0x40}) {
		t.Errorf("prologue of a loop-only body = % x", got)
	}
	if got := m.bodyEpilogue(nil, spin); !bytes.Equal(got, []byte{0x0b, 0x20, 0x00, 0x24, 0x01}) {
		t.Errorf("epilogue of a loop-only body = % x", got)
	}
	if got := m.depthEnter(nil); !bytes.Equal(got, []byte{0x23, 0x02, 0x41, 0x01, 0x6a, 0x24, 0x02, 0x23, 0x02, 0x41, 0xd0, 0x86, 0x03, 0x4b, 0x04, 0x40, 0x00, 0x0b}) {
		t.Errorf("depth entry = % x", got)
	}
	if got := m.depthLeave(nil); !bytes.Equal(got, []byte{0x23, 0x02, 0x41, 0x01, 0x6b, 0x24, 0x02}) {
		t.Errorf("depth exit = % x", got)
	}
	for i, body := range want {
		entry := append(appendU32(nil, uint32(len(body))), body...)
		if !bytes.Contains(out, entry) {
			t.Errorf("function %d: output lacks body % x", i, entry)
		}
	}
	if got := sections(t, out); strings.Join(got, ",") != "type,function,memory,global,export,code" {
		t.Errorf("sections = %v", got)
	}
}

// TestInstrumentKeepsIndexes checks that imported and defined globals keep
// their indexes and values and that the flag is the last global.
func TestInstrumentKeepsIndexes(t *testing.T) {
	ctx := context.Background()
	// env exports a global the main module imports.
	env := testModule{
		globals: [][]byte{{tI32, 0x00, 0x41, 0x07, 0x0b}},
		exports: [][]byte{exportEntry("g", 0x03, 0)},
	}.bytes()
	imp := cat(appendU32(nil, 3), []byte("env"), appendU32(nil, 1), []byte("g"), []byte{0x03, tI32, 0x00})
	main := testModule{
		types:   [][]byte{functype(nil, []byte{tI32, tI32, tI32}), functype(nil, nil)},
		imports: imp, nImports: 0,
		globals: [][]byte{
			{tI32, 0x01, 0x41, 0x0b, 0x0b},       // mutable 11
			{tI32, 0x00, 0x41, 0xe5, 0x00, 0x0b}, // 101
		},
		funcs: []testFunc{
			{typ: 0, export: "get", body: []byte{0x23, 0x00, 0x23, 0x01, 0x23, 0x02}},
			{typ: 1, export: "spin", body: []byte{0x03, 0x40, 0x0c, 0x00, 0x0b}},
		},
	}
	// The builder counts imports as functions for export indexes; this
	// module imports one global instead, so add the import section by hand.
	wasm := main.bytes()
	wasm = insertSection(t, wasm, 2, cat(appendU32(nil, 1), imp))
	out, err := Instrument(wasm)
	if err != nil {
		t.Fatal(err)
	}
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigCompiler())
	defer rt.Close(ctx)
	if _, err := rt.InstantiateWithConfig(ctx, env, wazero.NewModuleConfig().WithName("env")); err != nil {
		t.Fatal(err)
	}
	mod, err := rt.InstantiateWithConfig(ctx, out, wazero.NewModuleConfig().WithName("main"))
	if err != nil {
		t.Fatal(err)
	}
	res, err := mod.ExportedFunction("get").Call(ctx)
	if err != nil || len(res) != 3 || res[0] != 7 || res[1] != 11 || res[2] != 101 {
		t.Fatalf("get() = %v, %v; want [7 11 101]", res, err)
	}
	flag, err := NewFlag(mod)
	if err != nil {
		t.Fatal(err)
	}
	flag.Raise()
	if _, err := mod.ExportedFunction("spin").Call(ctx); !flag.Interrupted(err) {
		t.Fatalf("spin() with flag raised: %v; want interrupt", err)
	}
}

// insertSection inserts a section before the first section with a larger id
// (enough for the ordered sections the tests build).
func insertSection(t testing.TB, wasm []byte, id byte, body []byte) []byte {
	t.Helper()
	r := reader{b: wasm, pos: 8, end: len(wasm)}
	for !r.done() {
		at := r.pos
		sid, _ := r.readByte()
		size, _ := r.u32()
		if _, err := r.sub(size); err != nil {
			t.Fatal(err)
		}
		if sid != secCustom && sectionRank[sid] > sectionRank[id] {
			return cat(wasm[:at], section(id, body), wasm[at:])
		}
	}
	return append(wasm, section(id, body)...)
}

func TestInstrumentMinimalModules(t *testing.T) {
	ctx := context.Background()
	cases := map[string][]byte{
		"empty module": testModule{}.bytes(),
		"no globals or exports": testModule{
			types: [][]byte{functype(nil, nil)},
			funcs: []testFunc{{typ: 0, body: []byte{0x01}}},
		}.bytes(),
		"memory only": testModule{memory: []byte{0x00, 0x01}}.bytes(),
	}
	for name, wasm := range cases {
		t.Run(name, func(t *testing.T) {
			out, err := Instrument(wasm)
			if err != nil {
				t.Fatal(err)
			}
			rt := wazero.NewRuntime(ctx)
			defer rt.Close(ctx)
			mod, err := rt.Instantiate(ctx, out)
			if err != nil {
				t.Fatalf("instantiate: %v", err)
			}
			flag, err := NewFlag(mod)
			if err != nil {
				t.Fatal(err)
			}
			if flag.Raised() {
				t.Fatal("new flag is raised")
			}
		})
	}
}

func TestInstrumentCustomSections(t *testing.T) {
	custom := func(name string, payload ...byte) []byte {
		return cat(appendU32(nil, uint32(len(name))), []byte(name), payload)
	}
	wasm := testModule{
		types: [][]byte{functype(nil, nil)},
		funcs: []testFunc{{typ: 0, export: "f", body: []byte{0x01}}},
		custom: [][]byte{
			custom("name", 0x01, 0x04, 0x01, 0x00, 0x01, 'f'), // function names: 0 -> "f"
			custom(".debug_info", 1, 2, 3),
			custom(".debug_line", 4),
			custom("sourceMappingURL", 0x03, 'a', '.', 'm'),
			custom("producers", 0x00),
		},
	}.bytes()
	out, err := Instrument(wasm)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(sections(t, out), ",")
	if want := "type,function,memory,global,export,code,custom:name,custom:producers"; got != want {
		t.Fatalf("sections = %s; want %s", got, want)
	}
}

func TestInstrumentRejects(t *testing.T) {
	valid := testModule{
		types: [][]byte{functype(nil, nil)},
		funcs: []testFunc{{typ: 0, export: "f", body: []byte{0x01}}},
	}.bytes()
	withBody := func(body ...byte) []byte {
		return testModule{
			types: [][]byte{functype(nil, nil)},
			funcs: []testFunc{{typ: 0, body: body}},
		}.bytes()
	}
	cases := []struct {
		name string
		wasm []byte
		want string
	}{
		{"empty input", nil, "missing \\0asm magic"},
		{"not wasm", []byte("#!/bin/sh\necho hi\n"), "missing \\0asm magic"},
		{"component", []byte{0, 'a', 's', 'm', 0x0d, 0, 1, 0}, "unsupported wasm binary version"},
		{"truncated section", cat(wasmHeader, []byte{0x01, 0x05, 0x00}), "section 1 (type) at offset 0x8: length 5"},
		{"section size overflows", cat(wasmHeader, []byte{0x01, 0xff, 0xff, 0xff, 0xff, 0x7f}), "section 1 (type) header at offset 0x8: u32 at offset 0x9 overflows"},
		{"unknown section", cat(wasmHeader, []byte{0x0e, 0x00}), "unknown section id 14 at offset 0x8"},
		{"sections out of order", cat(wasmHeader, section(3, []byte{0}), section(1, []byte{0})), "section 1 (type) at offset 0xb is out of order"},
		{"repeated section", cat(wasmHeader, section(1, []byte{0}), section(1, []byte{0})), "out of order or repeated"},
		{"already instrumented", mustInstrument(t, valid), "(canopy_interrupt): module already exports a name Instrument adds"},
		{"unknown opcode", withBody(0xff), "section 10 (code) at offset 0x12: function 0 (body 0) at offset 0x16: unknown opcode 0xff at offset 0x17"},
		{"unknown fc opcode", withBody(0xfc, 0x7f), "unknown opcode 0xfc 127"},
		{"exception handling", withBody(0x1f, 0x40, 0x00), "unknown opcode 0x1f"},
		{"truncated immediate", cat(wasmHeader, section(1, vec([][]byte{functype(nil, nil)})), section(3, []byte{1, 0}),
			section(10, []byte{1, 3, 0, 0x41, 0x80})), "instruction runs past the end of the body"},
		{"code after final end", withBody(0x0b, 0x01), "bytes after the body's final end"},
		{"missing final end", cat(wasmHeader, section(1, vec([][]byte{functype(nil, nil)})), section(3, []byte{1, 0}),
			section(10, []byte{1, 2, 0, 0x01})), "without its final end"},
		{"body count mismatch", cat(wasmHeader, section(1, vec([][]byte{functype(nil, nil)})), section(3, []byte{2, 0, 0}),
			section(10, []byte{1, 2, 0, 0x0b})), "1 function bodies but the function section declares 2"},
		{"no code section", cat(wasmHeader, section(1, vec([][]byte{functype(nil, nil)})), section(3, []byte{1, 0})),
			"function section declares 1 functions but there is no code section"},
		{"unknown import kind", cat(wasmHeader, section(2, []byte{1, 1, 'm', 1, 'f', 0x09})), "import 0: unknown import kind 0x9"},
		{"bad local type", withBodyLocals([]byte{1, 1, 0x55}), "unknown value type 0x55"},
		{"too many locals", withBodyLocals([]byte{1, 0xe1, 0xd4, 0x03, tI32}), "60001 locals, more than 50000: limit exceeded"},
		{"global count does not fit", cat(wasmHeader, section(6, []byte{0xff, 0xff, 0x03, 0x7f, 0x00, 0x41, 0x00, 0x0b})),
			"section 6 (global) at offset 0x8: count: count 65535 at offset 0xa does not fit in the 5 bytes that follow: limit exceeded"},
		{"data segment longer than its section", cat(wasmHeader, section(11, []byte{0x01, 0x01, 0xff, 0xff, 0xff, 0xff, 0x0f})),
			"data segment 0: count 4294967295"},
		{"negative block type", withBody(0x02, 0x80, 0x80, 0x80, 0x80, 0x7f), "block type at offset 0x18: unknown type -268435456"},
		{"malformed block type", withBody(0x02, 0x80, 0x80, 0x80, 0x80, 0x20), "s33 at offset 0x18 is malformed"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, err := Instrument(c.wasm)
			if err == nil {
				t.Fatalf("Instrument succeeded (%d bytes); want error containing %q", len(out), c.want)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q does not contain %q", err, c.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error is not one line: %q", err)
			}
		})
	}
}

func TestInstrumentAlreadyInstrumentedIs(t *testing.T) {
	out := mustInstrument(t, loopsModule())
	if _, err := Instrument(out); !errors.Is(err, ErrAlreadyInstrumented) {
		t.Fatalf("second Instrument: %v; want ErrAlreadyInstrumented", err)
	}
}

func withBodyLocals(locals []byte) []byte {
	return testModule{
		types: [][]byte{functype(nil, nil)},
		funcs: []testFunc{{typ: 0, locals: locals}},
	}.bytes()
}

func mustInstrument(t *testing.T, wasm []byte) []byte {
	t.Helper()
	out, err := Instrument(wasm)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestInstrumentTruncations feeds every prefix of a real module: each must be
// rejected or, when the cut falls on a section boundary, keep the property
// the fuzz test checks.
func TestInstrumentTruncations(t *testing.T) {
	wasm := loopsModule()
	c := newCompileChecker(t)
	for n := 0; n < len(wasm); n++ {
		c.check(t, wasm[:n])
	}
}

func TestResultBlockType(t *testing.T) {
	m := &module{
		typeParams:  []uint32{1, 1, 0, 0, 0},
		typeResults: [][]byte{{2, tI32, tI32}, {3, tI32, tI32, tI32}, {1, tI64}, {2, tI32, tI32}, {0}},
	}
	for _, c := range []struct {
		t    uint32
		want []byte
	}{
		{0, []byte{3}},    // two results: the first type with them and no params
		{1, nil},          // three results: no such type
		{2, []byte{tI64}}, // one result: its value type
		{4, []byte{0x40}}, // none: empty
	} {
		if got := m.resultBlockType(c.t); !bytes.Equal(got, c.want) {
			t.Errorf("resultBlockType(%d) = % x; want % x", c.t, got, c.want)
		}
	}
}

func TestScanWeighsLoopsBySize(t *testing.T) {
	nops := make([]byte, 200)
	for i := range nops {
		nops[i] = 0x01
	}
	// loop (200 nops; loop (end)) end; then the function's end.
	body := cat([]byte{0x03, 0x40}, nops, []byte{0x03, 0x40, 0x0b, 0x0b, 0x0b})
	info, _, err := scan(reader{b: body, end: len(body)}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	// The outer loop spans 2+200+3+1 bytes: 1 + 206/64 = 4; the inner 3 bytes: 1.
	if len(info.loopW) != 2 || info.loopW[0] != 4 || info.loopW[1] != 1 {
		t.Fatalf("loop weights = %v; want [4 1]", info.loopW)
	}
	if w := weight(1 << 30); w != yieldThreshold {
		t.Fatalf("weight of a huge body = %d; want the cap %d", w, yieldThreshold)
	}
}
