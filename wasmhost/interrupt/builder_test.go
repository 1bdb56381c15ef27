package interrupt

// A tiny wasm module assembler for tests: enough to write the hand-made
// modules below byte by byte without external tools.

type testFunc struct {
	typ    uint32 // index into testModule.types
	locals []byte // encoded locals vector (nil means no locals)
	body   []byte // instructions, without the final end
	export string // export name, or ""
}

type testModule struct {
	types    [][]byte // encoded function types, each 0x60 params results
	imports  []byte   // encoded import entries (count is computed)
	nImports int
	memory   []byte // encoded memory limits, or nil for no memory
	globals  [][]byte
	funcs    []testFunc
	exports  [][]byte // extra encoded export entries
	custom   [][]byte // custom sections (name + payload), appended at the end
}

// functype encodes (params) -> (results).
func functype(params, results []byte) []byte {
	b := []byte{0x60}
	b = appendU32(b, uint32(len(params)))
	b = append(b, params...)
	b = appendU32(b, uint32(len(results)))
	return append(b, results...)
}

func section(id byte, body []byte) []byte {
	b := []byte{id}
	b = appendU32(b, uint32(len(body)))
	return append(b, body...)
}

func vec(items [][]byte) []byte {
	b := appendU32(nil, uint32(len(items)))
	for _, it := range items {
		b = append(b, it...)
	}
	return b
}

func exportEntry(name string, kind byte, idx uint32) []byte {
	b := appendU32(nil, uint32(len(name)))
	b = append(b, name...)
	b = append(b, kind)
	return appendU32(b, idx)
}

func (m testModule) bytes() []byte {
	out := append([]byte(nil), wasmHeader...)
	if len(m.types) > 0 {
		out = append(out, section(1, vec(m.types))...)
	}
	if m.nImports > 0 {
		out = append(out, section(2, append(appendU32(nil, uint32(m.nImports)), m.imports...))...)
	}
	if len(m.funcs) > 0 {
		var fs [][]byte
		for _, f := range m.funcs {
			fs = append(fs, appendU32(nil, f.typ))
		}
		out = append(out, section(3, vec(fs))...)
	}
	if m.memory != nil {
		out = append(out, section(5, vec([][]byte{m.memory}))...)
	}
	if len(m.globals) > 0 {
		out = append(out, section(6, vec(m.globals))...)
	}
	exports := append([][]byte(nil), m.exports...)
	for i, f := range m.funcs {
		if f.export != "" {
			exports = append(exports, exportEntry(f.export, 0, uint32(m.importedFuncs()+i)))
		}
	}
	if len(exports) > 0 {
		out = append(out, section(7, vec(exports))...)
	}
	if len(m.funcs) > 0 {
		var bodies [][]byte
		for _, f := range m.funcs {
			locals := f.locals
			if locals == nil {
				locals = []byte{0}
			}
			b := append(append([]byte(nil), locals...), f.body...)
			b = append(b, opEnd)
			bodies = append(bodies, append(appendU32(nil, uint32(len(b))), b...))
		}
		out = append(out, section(10, vec(bodies))...)
	}
	for _, c := range m.custom {
		out = append(out, section(0, c)...)
	}
	return out
}

// importedFuncs counts function imports; tests only import functions.
func (m testModule) importedFuncs() int { return m.nImports }

// Value types and a few opcodes used by the test modules.
const (
	tI32 = 0x7f
	tI64 = 0x7e
)

func i32const(v int32) []byte {
	// Signed LEB128.
	var b []byte
	x := int64(v)
	for {
		c := byte(x & 0x7f)
		x >>= 7
		if (x == 0 && c&0x40 == 0) || (x == -1 && c&0x40 != 0) {
			return append(append([]byte{0x41}, b...), c)
		}
		b = append(b, c|0x80)
	}
}

func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

// loopsModule is the hand-written module of the interrupt tests and
// benchmarks. Exports:
//
//	spin()            loops forever
//	sum(n i64) i64    sum of 0..n-1 in a tight loop
//	fib(n i32) i32    naive recursive Fibonacci, no loops
//	tree(d i32) i32   2^d leaves of a binary call tree, no loops
//	grow()            loops forever growing memory by one page (max 4 pages)
//	ping(n i32) i32   mutual recursion with pong, n deep, no loops
//	nested(n i32) i32 two nested loops
//	countdown(n i32) i32 a loop with a parameter, n iterations, returns 0
//	exitboth(n i32) i32 n iterations of an inner loop left by br_table
//	callsum()         loops forever calling sum(100)
//	fibpair(n i32) (i32, i32) returns (fib(n), n) through a br to its label
func loopsModule() []byte {
	m := testModule{
		types: [][]byte{
			functype(nil, nil),                         // 0
			functype([]byte{tI64}, []byte{tI64}),       // 1
			functype([]byte{tI32}, []byte{tI32}),       // 2
			functype([]byte{tI32}, []byte{tI32, tI32}), // 3
			functype(nil, []byte{tI32, tI32}),          // 4: the block type of 3's body
		},
		memory: []byte{0x01, 0x01, 0x04}, // min 1, max 4 pages
		funcs: []testFunc{
			{typ: 0, export: "spin", body: []byte{0x03, 0x40, 0x0c, 0x00, 0x0b}},
			{typ: 1, export: "sum", locals: []byte{1, 2, tI64}, // locals 1: i, 2: acc
				body: []byte{
					0x02, 0x40, // block
					0x03, 0x40, // loop
					0x20, 0x01, 0x20, 0x00, 0x51, 0x0d, 0x01, // i == n -> br 1
					0x20, 0x02, 0x20, 0x01, 0x7c, 0x21, 0x02, // acc += i
					0x20, 0x01, 0x42, 0x01, 0x7c, 0x21, 0x01, // i++
					0x0c, 0x00, // br 0
					0x0b, 0x0b,
					0x20, 0x02,
				}},
			{typ: 2, export: "fib", body: cat(
				[]byte{0x20, 0x00, 0x41, 0x02, 0x48},             // n < 2
				[]byte{0x04, tI32, 0x20, 0x00, 0x05},             // if (result i32) n else
				[]byte{0x20, 0x00, 0x41, 0x01, 0x6b, 0x10, 0x02}, // fib(n-1)
				[]byte{0x20, 0x00, 0x41, 0x02, 0x6b, 0x10, 0x02}, // fib(n-2)
				[]byte{0x6a, 0x0b},                               // add, end
			)},
			{typ: 2, export: "tree", body: cat(
				[]byte{0x20, 0x00, 0x45}, // d == 0
				[]byte{0x04, tI32, 0x41, 0x01, 0x05},
				[]byte{0x20, 0x00, 0x41, 0x01, 0x6b, 0x10, 0x03},
				[]byte{0x20, 0x00, 0x41, 0x01, 0x6b, 0x10, 0x03},
				[]byte{0x6a, 0x0b},
			)},
			{typ: 0, export: "grow", body: []byte{
				0x03, 0x40, 0x41, 0x01, 0x40, 0x00, 0x1a, 0x0c, 0x00, 0x0b,
			}},
			{typ: 2, export: "ping", body: cat( // n == 0 ? 0 : pong(n-1) + 1
				[]byte{0x20, 0x00, 0x45, 0x04, tI32, 0x41, 0x00, 0x05},
				[]byte{0x20, 0x00, 0x41, 0x01, 0x6b, 0x10, 0x06, 0x41, 0x01, 0x6a, 0x0b},
			)},
			{typ: 2, body: cat( // pong: n == 0 ? 0 : ping(n-1) + 1
				[]byte{0x20, 0x00, 0x45, 0x04, tI32, 0x41, 0x00, 0x05},
				[]byte{0x20, 0x00, 0x41, 0x01, 0x6b, 0x10, 0x05, 0x41, 0x01, 0x6a, 0x0b},
			)},
		},
	}
	// nested: acc = 0; for i in 0..n { for j in 0..n { acc += i ^ j } }; return acc
	m.funcs = append(m.funcs, testFunc{typ: 2, export: "nested", locals: []byte{1, 3, tI32}, // 1: i, 2: j, 3: acc
		body: cat(
			[]byte{0x02, 0x40, 0x03, 0x40},                                     // block loop (i)
			[]byte{0x20, 0x01, 0x20, 0x00, 0x4e, 0x0d, 0x01},                   // i >= n -> break
			[]byte{0x41, 0x00, 0x21, 0x02},                                     // j = 0
			[]byte{0x02, 0x40, 0x03, 0x40},                                     // block loop (j)
			[]byte{0x20, 0x02, 0x20, 0x00, 0x4e, 0x0d, 0x01},                   // j >= n -> break
			[]byte{0x20, 0x03, 0x20, 0x01, 0x20, 0x02, 0x73, 0x6a, 0x21, 0x03}, // acc += i^j
			[]byte{0x20, 0x02, 0x41, 0x01, 0x6a, 0x21, 0x02, 0x0c, 0x00},       // j++ continue
			[]byte{0x0b, 0x0b},
			[]byte{0x20, 0x01, 0x41, 0x01, 0x6a, 0x21, 0x01, 0x0c, 0x00}, // i++ continue
			[]byte{0x0b, 0x0b},
			[]byte{0x20, 0x03},
		)})
	// countdown: a loop with a parameter (multi-value): returns 0 after n
	// iterations.
	m.funcs = append(m.funcs, testFunc{typ: 2, export: "countdown", locals: []byte{1, 1, tI32},
		body: cat(
			[]byte{0x20, 0x00, 0x03, 0x02},                               // local.get 0; loop (type 2: [i32] -> [i32])
			[]byte{0x41, 0x01, 0x6b, 0x22, 0x01, 0x20, 0x01, 0x0d, 0x00}, // x-1; tee; br_if 0 with x-1
			[]byte{0x0b},
		)})
	// exitboth: br_table from an inner loop straight out of both loops:
	// returns n for n >= 1.
	m.funcs = append(m.funcs, testFunc{typ: 2, export: "exitboth", locals: []byte{1, 1, tI32},
		body: cat(
			[]byte{0x02, 0x40, 0x03, 0x40, 0x03, 0x40},       // block $out loop $a loop $b
			[]byte{0x20, 0x01, 0x41, 0x01, 0x6a, 0x21, 0x01}, // i++
			[]byte{0x20, 0x01, 0x20, 0x00, 0x4f},             // i >= n (unsigned)
			[]byte{0x0e, 0x01, 0x00, 0x02},                   // br_table [$b] default $out
			[]byte{0x0b, 0x0c, 0x00, 0x0b, 0x0b},             // end $b; br $a; end $a; end $out
			[]byte{0x20, 0x01},
		)})
	// callsum: loops forever calling sum(100), a function whose own loop is
	// short: the yields must still come, through the shared counter.
	m.funcs = append(m.funcs, testFunc{typ: 0, export: "callsum", body: []byte{
		0x03, 0x40, 0x42, 0xe4, 0x00, 0x10, 0x01, 0x1a, 0x0c, 0x00, 0x0b,
	}})
	// fibpair: two results, a call and a branch to the function's label
	// (wrapped in a block of type 4): returns (fib(n), n).
	m.funcs = append(m.funcs, testFunc{typ: 3, export: "fibpair", body: []byte{
		0x20, 0x00, 0x10, 0x02, 0x20, 0x00, 0x0c, 0x00,
	}})
	return m.bytes()
}
