package interrupt

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
)

// ExportName is the export under which Instrument publishes the interrupt
// flag: a mutable i32 global, 0 while the code may run, non-zero to stop it.
const ExportName = "canopy_interrupt"

// Version identifies what Instrument produces: it changes whenever the output
// for the same input changes. A cache of instrumented modules must include it
// in its key, or a module rewritten by an older version (one that, say, did
// not yet yield to Go) would be run after an upgrade.
const Version = "6"

// StartExportName is the export under which Instrument publishes the
// module's start function, if it has one: the start section is removed, and
// the runtime must call this export right after instantiation, under the
// same time limit as any call. (A start function runs inside instantiation,
// before the flag can be reached: left in place, one that loops forever
// could never be stopped.)
const StartExportName = "canopy_start"

// ErrAlreadyInstrumented is returned (wrapped) by Instrument for a module that
// already exports ExportName or StartExportName.
var ErrAlreadyInstrumented = errors.New("module already exports a name Instrument adds (" + ExportName + ", " + StartExportName + ", " + DepthExportName + ")")

// DepthExportName is the export under which Instrument publishes the call
// depth: a mutable i32 global that every function making calls increments on
// entry and decrements on its way out. An entry that takes it past MaxDepth
// traps with "unreachable" (Flag.DepthExceeded tells this apart). Without it,
// unbounded recursion would grow wazero's call stack to its ceiling of about
// 400 MB of host memory before "stack overflow", whatever the task's memory
// limit: enough to take down a small device.
const DepthExportName = "canopy_depth"

// MaxDepth is the deepest nesting of calls into functions that make calls.
// It bounds the host memory a task's call stack may take to a few MiB (a
// frame of wazero's compiled code is tens to hundreds of bytes). Real
// programs stay far below it: C code runs out of its 64 KiB shadow stack
// long before, and Go code keeps its stack in linear memory.
const MaxDepth = 50_000

var wasmHeader = []byte{0x00, 'a', 's', 'm', 0x01, 0x00, 0x00, 0x00}

// Section ids of the wasm binary format.
const (
	secCustom    = 0
	secType      = 1
	secMemory    = 5
	secImport    = 2
	secFunction  = 3
	secGlobal    = 6
	secExport    = 7
	secStart     = 8
	secCode      = 10
	secDataCount = 12
	secTag       = 13
)

var sectionNames = [...]string{"custom", "type", "import", "function", "table", "memory",
	"global", "export", "start", "element", "code", "data", "datacount", "tag"}

// sectionRank gives the position at which a non-custom section must appear;
// the tag section (exception handling) sits between memory and global.
var sectionRank = [...]int{0, 1, 2, 3, 4, 5, 7, 8, 9, 10, 12, 13, 11, 6}

func sectionLabel(id byte) string {
	if int(id) < len(sectionNames) {
		return fmt.Sprintf("section %d (%s)", id, sectionNames[id])
	}
	return fmt.Sprintf("section %d", id)
}

// Instrument returns a copy of the WebAssembly core module wasm with an
// interrupt check at the start of every defined function and after every loop
// opcode, and a new mutable i32 global (initially 0) exported as ExportName
// that those checks read. See the package documentation for the check.
//
// The new global is appended after the module's own globals, so no index in
// the module changes. Custom sections that address code by byte offset
// (DWARF .debug_*, reloc.*, sourceMappingURL, external_debug_info) are
// dropped because the offsets no longer hold; the name section and other
// custom sections are kept.
//
// Instrument checks the structure it relies on (sections, imports, exports,
// function bodies instruction by instruction) but is not a validator: the
// engine validates the output. A malformed or truncated module, a module that
// uses instructions of proposals wazero does not enable by default, or one
// that already exports ExportName is rejected with an error naming the
// section, function and byte offset; so is a module whose counts would make
// wazero allocate far more than its size (wrapping ErrLimit, see limits.go):
// the runtime should instrument a module before it lets wazero see it.
// Instrument never panics, and its output
// grows linearly with its input: real modules by about 5%, a body made of
// nothing but empty loops by up to 20 times (each loop gains about 40
// bytes).
func Instrument(wasm []byte) ([]byte, error) {
	out, err := instrument(wasm)
	if err != nil {
		return nil, fmt.Errorf("instrument wasm: %w", err)
	}
	return out, nil
}

// module is the state of one run of Instrument.
type module struct {
	in  []byte
	out []byte

	typeParams      []uint32          // parameter count of each entry of the type section
	typeResults     [][]byte          // encoded result types of each entry of the type section
	funcTypes       []uint32          // type index of each defined function
	resultTypes     map[string]uint32 // encoded results -> first type with them and no params
	memories        uint32            // imported and defined memories
	memoryDone      bool              // a memory exists or has been added
	importedFuncs   uint32
	importedGlobals uint32
	definedGlobals  uint32
	definedFuncs    uint32
	codeDone        bool // the code section has been rewritten
	globalDone      bool // the global section has been written
	exportDone      bool
	form            form
	startFunc       uint32 // the start section's function, if hasStart
	hasStart        bool
	stack           []frame     // reused by instructions
	open            []openBlock // reused by scan
	loopW           []uint32    // reused by scan
}

func instrument(in []byte) ([]byte, error) { return instrumentForm(in, formDefault) }

func instrumentForm(in []byte, f form) ([]byte, error) {
	if len(in) < len(wasmHeader) || !bytes.Equal(in[:4], wasmHeader[:4]) {
		return nil, errors.New("not a wasm module: missing \\0asm magic")
	}
	if !bytes.Equal(in[4:8], wasmHeader[4:]) {
		return nil, fmt.Errorf("unsupported wasm binary version % x (want 01 00 00 00; components are not supported)", in[4:8])
	}
	m := &module{in: in, out: make([]byte, 0, len(in)+len(in)/8+64), form: f}
	m.out = append(m.out, wasmHeader...)
	m.findStart()
	r := reader{b: in, pos: len(wasmHeader), end: len(in)}
	lastRank := 0
	for !r.done() {
		start := r.pos
		id, _ := r.readByte()
		size, err := r.u32()
		if err != nil {
			return nil, fmt.Errorf("%s header at offset %#x: %w", sectionLabel(id), start, err)
		}
		body, err := r.sub(size)
		if err != nil {
			return nil, fmt.Errorf("%s at offset %#x: %w", sectionLabel(id), start, err)
		}
		if id == secCustom {
			if err := m.custom(in[start:r.pos], body); err != nil {
				return nil, fmt.Errorf("%s at offset %#x: %w", sectionLabel(id), start, err)
			}
			continue
		}
		if int(id) >= len(sectionRank) {
			return nil, fmt.Errorf("unknown section id %d at offset %#x", id, start)
		}
		rank := sectionRank[id]
		if rank <= lastRank {
			return nil, fmt.Errorf("%s at offset %#x is out of order or repeated", sectionLabel(id), start)
		}
		lastRank = rank
		if err := m.section(id, rank, in[start:r.pos], body); err != nil {
			return nil, fmt.Errorf("%s at offset %#x: %w", sectionLabel(id), start, err)
		}
	}
	m.flushBefore(len(sectionRank) + 1)
	if m.definedFuncs > 0 && !m.codeDone {
		return nil, fmt.Errorf("function section declares %d functions but there is no code section", m.definedFuncs)
	}
	return m.out, nil
}

// findStart looks ahead for the start section, which follows the export
// section where its function must be exported. Errors are left to the main
// pass, which reads the same bytes.
func (m *module) findStart() {
	r := reader{b: m.in, pos: len(wasmHeader), end: len(m.in)}
	for !r.done() {
		id, _ := r.readByte()
		size, err := r.u32()
		if err != nil {
			return
		}
		body, err := r.sub(size)
		if err != nil {
			return
		}
		if id == secStart {
			if f, err := body.u32(); err == nil && body.done() {
				m.startFunc, m.hasStart = f, true
			}
			return
		}
	}
}

// custom copies a custom section unless it refers to code offsets.
func (m *module) custom(raw []byte, body reader) error {
	name, err := body.name()
	if err != nil {
		return fmt.Errorf("name: %w", err)
	}
	n := string(name)
	if strings.HasPrefix(n, ".debug_") || strings.HasPrefix(n, "reloc.") ||
		n == "sourceMappingURL" || n == "external_debug_info" {
		return nil
	}
	if n == "name" {
		if err := checkNameSection(body); err != nil {
			return fmt.Errorf("name section: %w", err)
		}
	}
	m.out = append(m.out, raw...)
	return nil
}

// flushBefore writes the new global and export sections if no section of
// their own was found before a section of the given rank.
func (m *module) flushBefore(rank int) {
	if !m.memoryDone && rank > sectionRank[secMemory] {
		// The yield sequence runs memory.grow, which needs a memory: give a
		// module without one an empty memory that can never grow.
		m.memoryDone = true
		if m.memories == 0 {
			m.appendSection(secMemory, emptyMemory)
		}
	}
	if !m.globalDone && rank > sectionRank[secGlobal] {
		m.globalDone = true
		body := appendU32(nil, newGlobals)
		body = m.appendGlobals(body)
		m.appendSection(secGlobal, body)
	}
	if !m.exportDone && rank > sectionRank[secExport] {
		m.exportDone = true
		body := appendU32(nil, m.newExports())
		body = m.appendExport(body)
		m.appendSection(secExport, body)
	}
}

// emptyMemory is a memory section body with one memory of 0 pages, max 0.
var emptyMemory = []byte{0x01, 0x01, 0x00, 0x00}

func (m *module) appendSection(id byte, body []byte) {
	m.out = append(m.out, id)
	m.out = appendU32(m.out, uint32(len(body)))
	m.out = append(m.out, body...)
}

// section handles one non-custom section.
func (m *module) section(id byte, rank int, raw []byte, body reader) error {
	if id == secMemory {
		m.memoryDone = true // this section gives the module a memory, or is replaced by one
	}
	m.flushBefore(rank)
	switch id {
	case secType:
		if err := m.typeSection(body); err != nil {
			return err
		}
	case secMemory:
		n, err := count(&body, 2)
		if err != nil {
			return fmt.Errorf("count: %w", err)
		}
		m.memories += n
		if m.memories == 0 {
			m.appendSection(secMemory, emptyMemory)
			return nil
		}
	case secImport:
		return m.imports(raw, body)
	case secFunction:
		if err := m.functions(body); err != nil {
			return err
		}
	case secGlobal:
		return m.globals(body)
	case secExport:
		return m.exports(body)
	case secStart:
		return nil // exported as StartExportName instead, see findStart
	case secCode:
		return m.code(body)
	default:
		if err := checkCounts(id, body); err != nil {
			return err
		}
	}
	m.out = append(m.out, raw...)
	return nil
}
