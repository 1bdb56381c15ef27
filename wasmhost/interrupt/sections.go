package interrupt

import (
	"errors"
	"fmt"
)

// newGlobals is the number of globals Instrument adds: the flag, the tick
// counter of the function-entry yields, and the call depth.
const newGlobals = 3

// flagIndex is the index of the flag global.
func (m *module) flagIndex() uint32 { return m.importedGlobals + m.definedGlobals }

// ticksIndex is the index of the counter of function entries.
func (m *module) ticksIndex() uint32 { return m.flagIndex() + 1 }

// depthIndex is the index of the call depth global.
func (m *module) depthIndex() uint32 { return m.flagIndex() + 2 }

// appendGlobals appends the new globals: three mutable i32 initialised to 0.
func (m *module) appendGlobals(dst []byte) []byte {
	return append(dst, 0x7f, 0x01, 0x41, 0x00, opEnd, 0x7f, 0x01, 0x41, 0x00, opEnd, 0x7f, 0x01, 0x41, 0x00, opEnd)
}

func (m *module) appendExport(dst []byte) []byte {
	dst = appendU32(dst, uint32(len(ExportName)))
	dst = append(dst, ExportName...)
	dst = append(dst, 0x03) // global
	dst = appendU32(dst, m.flagIndex())
	dst = appendU32(dst, uint32(len(DepthExportName)))
	dst = append(dst, DepthExportName...)
	dst = append(dst, 0x03) // global
	dst = appendU32(dst, m.depthIndex())
	if m.hasStart {
		dst = appendU32(dst, uint32(len(StartExportName)))
		dst = append(dst, StartExportName...)
		dst = append(dst, 0x00) // function
		dst = appendU32(dst, m.startFunc)
	}
	return dst
}

// newExports is the number of exports Instrument adds.
func (m *module) newExports() uint32 {
	if m.hasStart {
		return 3
	}
	return 2
}

// functions reads the function section: the type index of every defined
// function must name an entry of the type section. (wazero v1.12 panics
// validating a call to a function whose type index is out of range; checking
// here keeps such a module from reaching it.)
func (m *module) functions(r reader) error {
	n, err := count(&r, 1)
	if err != nil {
		return fmt.Errorf("count: %w", err)
	}
	for i := uint32(0); i < n; i++ {
		t, err := m.typeIndex(&r)
		if err != nil {
			return fmt.Errorf("function %d: %w", uint64(m.importedFuncs)+uint64(i), err)
		}
		m.funcTypes = append(m.funcTypes, t)
	}
	if !r.done() {
		return fmt.Errorf("%d bytes after the last function at offset %#x", r.end-r.pos, r.pos)
	}
	m.definedFuncs = n
	return nil
}

// typeIndex reads a function's type index and checks it is in range.
func (m *module) typeIndex(r *reader) (uint32, error) {
	at := r.pos
	t, err := r.u32()
	if err != nil {
		return 0, err
	}
	if uint64(t) >= uint64(len(m.typeParams)) {
		return 0, fmt.Errorf("type index %d at offset %#x is out of range (%d types)", t, at, len(m.typeParams))
	}
	return t, nil
}

// typeSection records the parameter count of every function type.
func (m *module) typeSection(r reader) error {
	n, err := count(&r, 3)
	if err != nil {
		return fmt.Errorf("count: %w", err)
	}
	for i := uint32(0); i < n; i++ {
		at := r.pos
		form, err := r.readByte()
		if err != nil {
			return fmt.Errorf("type %d: %w", i, err)
		}
		if form != 0x60 {
			return fmt.Errorf("type %d at offset %#x: unsupported type form %#x (want 0x60 func)", i, at, form)
		}
		params, err := skipValTypes(&r)
		if err != nil {
			return fmt.Errorf("type %d params: %w", i, err)
		}
		resultsAt := r.pos
		if _, err := skipValTypes(&r); err != nil {
			return fmt.Errorf("type %d results: %w", i, err)
		}
		m.typeParams = append(m.typeParams, params)
		m.typeResults = append(m.typeResults, r.b[resultsAt:r.pos])
	}
	if !r.done() {
		return fmt.Errorf("%d bytes after the last type at offset %#x", r.end-r.pos, r.pos)
	}
	return nil
}

// skipValTypes skips a vector of value types and returns its length.
func skipValTypes(r *reader) (uint32, error) {
	n, err := count(r, 1)
	if err != nil {
		return 0, err
	}
	for i := uint32(0); i < n; i++ {
		at := r.pos
		t, err := r.readByte()
		if err != nil {
			return 0, err
		}
		if !isValType(t) {
			return 0, fmt.Errorf("unknown value type %#x at offset %#x", t, at)
		}
	}
	return n, nil
}

// imports counts the imported globals and copies the section.
func (m *module) imports(raw []byte, r reader) error {
	n, err := count(&r, 3)
	if err != nil {
		return fmt.Errorf("count: %w", err)
	}
	for i := uint32(0); i < n; i++ {
		if err := m.importEntry(&r); err != nil {
			return fmt.Errorf("import %d: %w", i, err)
		}
	}
	if !r.done() {
		return fmt.Errorf("%d bytes after the last import at offset %#x", r.end-r.pos, r.pos)
	}
	m.out = append(m.out, raw...)
	return nil
}

func (m *module) importEntry(r *reader) error {
	if _, err := r.name(); err != nil {
		return fmt.Errorf("module name: %w", err)
	}
	if _, err := r.name(); err != nil {
		return fmt.Errorf("field name: %w", err)
	}
	at := r.pos
	kind, err := r.readByte()
	if err != nil {
		return err
	}
	switch kind {
	case 0x00: // function: type index
		m.importedFuncs++
		_, err := m.typeIndex(r)
		return err
	case 0x01: // table: reftype, limits
		t, err := r.readByte()
		if err != nil {
			return err
		}
		if t != 0x70 && t != 0x6f {
			return fmt.Errorf("table at offset %#x: unknown reference type %#x", at+1, t)
		}
		return skipLimits(r)
	case 0x02: // memory: limits
		m.memories++
		return skipLimits(r)
	case 0x03: // global: valtype, mutability
		t, err := r.readByte()
		if err != nil {
			return err
		}
		if !isValType(t) {
			return fmt.Errorf("global at offset %#x: unknown value type %#x", at+1, t)
		}
		if _, err := r.readByte(); err != nil {
			return err
		}
		m.importedGlobals++
		return nil
	}
	return fmt.Errorf("unknown import kind %#x at offset %#x", kind, at)
}

// skipLimits skips table or memory limits: flags, min and (if flagged) max.
// Flag bit 1 (shared memory, threads) is accepted; 64-bit limits are not.
func skipLimits(r *reader) error {
	at := r.pos
	flags, err := r.readByte()
	if err != nil {
		return err
	}
	if flags > 3 {
		return fmt.Errorf("limits at offset %#x: unsupported flags %#x", at, flags)
	}
	if _, err := r.u32(); err != nil {
		return err
	}
	if flags&1 != 0 {
		_, err = r.u32()
	}
	return err
}

// globals rewrites the global section with the new global appended.
func (m *module) globals(r reader) error {
	n, err := count(&r, 3)
	if err != nil {
		return fmt.Errorf("count: %w", err)
	}
	if uint64(m.importedGlobals)+uint64(n)+newGlobals > uint64(^uint32(0)) {
		return errors.New("too many globals")
	}
	m.definedGlobals = n
	body := make([]byte, 0, r.end-r.pos+20)
	body = appendU32(body, n+newGlobals)
	body = append(body, r.b[r.pos:r.end]...)
	body = m.appendGlobals(body)
	m.appendSection(secGlobal, body)
	m.globalDone = true
	return nil
}

// exports rewrites the export section with the flag's export appended,
// rejecting a module that already has an export of that name.
func (m *module) exports(r reader) error {
	n, err := count(&r, 3)
	if err != nil {
		return fmt.Errorf("count: %w", err)
	}
	entries := r.pos
	for i := uint32(0); i < n; i++ {
		at := r.pos
		name, err := r.name()
		if err != nil {
			return fmt.Errorf("export %d name: %w", i, err)
		}
		if string(name) == ExportName || string(name) == StartExportName || string(name) == DepthExportName {
			return fmt.Errorf("export %d at offset %#x (%s): %w", i, at, name, ErrAlreadyInstrumented)
		}
		kind, err := r.readByte()
		if err != nil {
			return fmt.Errorf("export %d: %w", i, err)
		}
		if kind > 0x04 {
			return fmt.Errorf("export %d: unknown kind %#x at offset %#x", i, kind, r.pos-1)
		}
		if _, err := r.u32(); err != nil {
			return fmt.Errorf("export %d index: %w", i, err)
		}
	}
	if !r.done() {
		return fmt.Errorf("%d bytes after the last export at offset %#x", r.end-r.pos, r.pos)
	}
	body := make([]byte, 0, r.end-entries+len(ExportName)+len(StartExportName)+len(DepthExportName)+32)
	if n > ^uint32(0)-3 {
		return errors.New("too many exports")
	}
	body = appendU32(body, n+m.newExports())
	body = append(body, r.b[entries:r.end]...)
	body = m.appendExport(body)
	m.appendSection(secExport, body)
	m.exportDone = true
	return nil
}
