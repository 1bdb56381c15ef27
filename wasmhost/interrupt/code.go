package interrupt

import (
	"bytes"
	"errors"
	"fmt"
)

// form selects the instrumentation. Only formDefault is used outside the
// benchmarks, which measure the others for comparison.
type form struct {
	yield     bool // yield to Go every yieldMask+1 loop iterations and calls
	eagerFlag bool // check the flag at every loop iteration and function entry, not only when yielding
	thenTrap  bool // the flag check traps in its then-arm (see flagCheck)
}

var (
	// formDefault yields to Go and checks the flag only when it does.
	formDefault = formLazy
	// formLazy yields to Go every yieldMask+1 loop iterations and entries
	// of functions that make calls, and checks the flag then.
	formLazy = form{yield: true}
	// formEager also checks the flag at every loop iteration and function
	// entry.
	formEager = form{yield: true, eagerFlag: true}
	// formFlagOnly checks the flag at every loop iteration and function
	// entry but never yields. It is cheaper but can hang the process: see
	// yieldSequence.
	formFlagOnly = form{eagerFlag: true}
	// formThenTrap is formFlagOnly with the trap in the then-arm.
	formThenTrap = form{eagerFlag: true, thenTrap: true}
)

// yieldMask sets how often the instrumented code yields to Go: when a counter
// incremented at each loop iteration (or function entry) has its low bits
// clear, every 4096 increments.
const yieldMask = 1<<12 - 1

// flagCheck returns the interrupt check for the flag global at index g:
//
//	global.get g; i32.eqz; if; else; unreachable; end
//
// It behaves like "global.get g; if; unreachable; end" but wazero's compiler
// lays the two out differently: with the trap in the then-arm it places the
// trap inline and the common path jumps over it at every loop iteration
// (1.5x on a tight loop); with the trap in the else-arm the common path falls
// through and the trap is moved out of the loop (see docs/BENCHMARKS.md).
func flagCheck(dst []byte, g uint32, f form) []byte {
	dst = append(dst, 0x23)
	dst = appendU32(dst, g)
	if f.thenTrap {
		return append(dst, opIf, blockTypeEmpty, 0x00, opEnd)
	}
	return append(dst, 0x45, opIf, blockTypeEmpty, 0x05, 0x00, opEnd)
}

// yieldSequence counts with the local or global counter (get and set are
// the opcodes, idx its index) and yields to Go when the counter's low bits
// are all clear:
//
//	get idx; i32.const 1; i32.add; set idx (tee for a local)
//	get idx (globals only); i32.const yieldMask; i32.and
//	if; else; i32.const 0; memory.grow 0; drop; <flag check>; end
//
// The yield is needed because Go cannot preempt a goroutine while it runs
// wazero's compiled code: a loop that never leaves it holds its thread, and
// when the garbage collector stops the world it waits for that goroutine
// forever, with every other goroutine (including the timer that would raise
// the flag) stopped. memory.grow is the cheapest instruction that wazero
// implements in Go; growing by 0 pages changes nothing.
func (m *module) yieldSequence(dst []byte, local bool, idx uint32) []byte {
	if local {
		dst = append(dst, 0x20)
	} else {
		dst = append(dst, 0x23)
	}
	dst = appendU32(dst, idx)
	dst = append(dst, 0x41, 0x01, 0x6a) // i32.const 1; i32.add
	if local {
		dst = append(dst, 0x22) // local.tee
		dst = appendU32(dst, idx)
	} else {
		dst = append(dst, 0x24) // global.set
		dst = appendU32(dst, idx)
		dst = append(dst, 0x23) // global.get
		dst = appendU32(dst, idx)
	}
	dst = append(dst, 0x41)
	dst = appendU32(dst, yieldMask) // 4095: its unsigned LEB128 is also its signed one
	dst = append(dst, 0x71)         // i32.and
	dst = append(dst, opIf, blockTypeEmpty, 0x05)
	dst = m.yield(dst)
	return append(dst, opEnd)
}

// yield appends "i32.const 0; memory.grow 0; drop" and, unless the flag is
// checked eagerly elsewhere, the flag check.
func (m *module) yield(dst []byte) []byte {
	dst = append(dst, 0x41, 0x00, 0x40, 0x00, 0x1a)
	if !m.form.eagerFlag {
		dst = flagCheck(dst, m.flagIndex(), m.form)
	}
	return dst
}

// code rewrites the code section, instrumenting every function body, and
// re-encodes the sizes.
func (m *module) code(r reader) error {
	n, err := count(&r, 2)
	if err != nil {
		return fmt.Errorf("count: %w", err)
	}
	if n != m.definedFuncs {
		return fmt.Errorf("%d function bodies but the function section declares %d", n, m.definedFuncs)
	}
	m.codeDone = true
	body := make([]byte, 0, (r.end-r.pos)+(r.end-r.pos)/4+16)
	body = appendU32(body, n)
	var fn []byte
	for i := uint32(0); i < n; i++ {
		size, err := r.u32()
		if err != nil {
			return fmt.Errorf("function %d size: %w", i, err)
		}
		fr, err := r.sub(size)
		if err != nil {
			return fmt.Errorf("function %d: %w", i, err)
		}
		fn, err = m.function(fn[:0], fr, m.funcTypes[i])
		if err != nil {
			return fmt.Errorf("function %d (body %d) at offset %#x: %w", uint64(m.importedFuncs)+uint64(i), i, fr.pos, err)
		}
		body = appendU32(body, uint32(len(fn)))
		body = append(body, fn...)
	}
	if !r.done() {
		return fmt.Errorf("%d bytes after the last function body at offset %#x", r.end-r.pos, r.pos)
	}
	m.appendSection(secCode, body)
	return nil
}

// bodyInfo is what the instrumenter needs to know about a function body
// before rewriting it.
type bodyInfo struct {
	loops bool // has a loop instruction
	calls bool // has a call, call_indirect or tail call
}

// scan walks the instructions of a body (after its locals) to its final end.
func scan(r reader) (bodyInfo, error) {
	var info bodyInfo
	depth := 0
	for !r.done() {
		op, err := skipInstr(&r)
		if err != nil {
			if errors.Is(err, errTruncated) {
				return info, fmt.Errorf("instruction runs past the end of the body: %w", err)
			}
			return info, err
		}
		switch op {
		case opBlock, opIf:
			depth++
		case opLoop:
			depth++
			info.loops = true
		case 0x10, 0x11, 0x12, 0x13:
			info.calls = true
		case opEnd:
			depth--
			if depth < 0 {
				if !r.done() {
					return info, fmt.Errorf("%d bytes after the body's final end at offset %#x", r.end-r.pos, r.pos)
				}
				return info, nil
			}
		}
	}
	return info, fmt.Errorf("body ends at offset %#x without its final end: %w", r.end, errTruncated)
}

// frame is an open block, loop or if of the original code while a body is
// rewritten.
type frame struct {
	wrapped bool // a loop wrapped by loopPrologue/loopEpilogue
}

// wrapperLabels is the number of labels loopPrologue adds around a loop.
const wrapperLabels = 3

// loopPrologue replaces "loop bt": it wraps the loop so that its yield path
// leaves the loop instead of calling out of it:
//
//	block bt            ;; $done: the loop's results leave through here
//	  loop              ;; $again
//	    block           ;; $yield
//	      loop bt       ;; the original loop
//	        <flag check, if eager>
//	        local.get c; i32.const 1; i32.add; local.tee c
//	        i32.const yieldMask; i32.and; i32.eqz; br_if $yield
//	        ...the loop body, branches that leave the loop renumbered...
//	      end
//	      br $done
//	    end
//	    i32.const 0; memory.grow 0; drop   ;; yield to Go
//	    <flag check, if not eager>
//	    br $again
//	  end
//	  unreachable
//	end
//
// Calling memory.grow inside the loop would be simpler, but wazero's register
// allocator then spills the loop's variables to the stack at every iteration
// (3x on a tight loop); with the call outside the loop the loop keeps them in
// registers (measured 1.1x). The loop's own state is in locals, so leaving
// and re-entering it changes nothing. A loop with parameters cannot be left
// and re-entered without its operands and uses yieldSequence inline instead.
func (m *module) loopPrologue(dst, loop []byte, counter uint32) []byte {
	bt := loop[1:]
	dst = append(dst, opBlock)
	dst = append(dst, bt...)
	dst = append(dst, opLoop, blockTypeEmpty, opBlock, blockTypeEmpty)
	dst = append(dst, loop...)
	if m.form.eagerFlag {
		dst = flagCheck(dst, m.flagIndex(), m.form)
	}
	dst = append(dst, 0x20)
	dst = appendU32(dst, counter)
	dst = append(dst, 0x41, 0x01, 0x6a, 0x22)
	dst = appendU32(dst, counter)
	dst = append(dst, 0x41)
	dst = appendU32(dst, yieldMask)
	return append(dst, 0x71, 0x45, 0x0d, 0x01) // i32.and; i32.eqz; br_if 1
}

// loopEpilogue follows the end of a loop that loopPrologue wrapped.
func (m *module) loopEpilogue(dst []byte) []byte {
	dst = append(dst, 0x0c, 0x02, opEnd) // br $done; end $yield
	dst = m.yield(dst)
	return append(dst,
		0x0c, 0x00, opEnd, // br $again; end $again
		0x00, opEnd, // unreachable; end $done
	)
}

// plan is how one function body is instrumented.
type plan struct {
	loops     bool   // the body has loops: it gets a counter local
	counter   uint32 // the counter's local index
	calls     bool   // the body makes calls: its entries are counted
	bt        []byte // block type of the function's results, nil if the module has none
	entryLoop bool   // the entry yield is wrapped (calls and bt)
	bodyBlock bool   // the original body is wrapped in a block (bt, and loops or calls)
}

// bodyPrologue starts an instrumented body. For a function that makes calls
// and loops it emits (parts are left out for bodies without calls or loops):
//
//	<flag check, if eager>
//	loop                ;; $again
//	  block             ;; $yield
//	    global.get t; i32.const 1; i32.add; global.set t
//	    global.get t; i32.const yieldMask; i32.and; i32.eqz; br_if $yield
//	    global.get t; local.set c
//	    block bt        ;; $body: a branch to the function's label now lands here
//	      ...the original body; before each return: local.get c; global.set t...
//	    end
//	    local.get c; global.set t
//	    return
//	  end
//	  i32.const 0; memory.grow 0; drop; <flag check>
//	  br $again
//	end
//	unreachable
//
// The counter t counts function entries and, through the loop counters that
// start from it and are stored back on the way out, loop iterations of all
// activations, so the code yields every yieldMask+1 of those events wherever
// they happen: a loop that calls a function with a short loop many times
// still yields as often as one long loop. Like loopPrologue, the structure
// keeps the yield off the path that runs: with the yield inline at the entry,
// the common path jumps over it at every call (fib: 1.29x against 1.2x).
func (m *module) bodyPrologue(dst []byte, p *plan) []byte {
	if m.form.eagerFlag {
		dst = flagCheck(dst, m.flagIndex(), m.form)
	}
	if !m.form.yield {
		return dst
	}
	g := m.ticksIndex()
	if p.entryLoop {
		dst = append(dst, opLoop, blockTypeEmpty, opBlock, blockTypeEmpty)
		dst = append(dst, 0x23)
		dst = appendU32(dst, g)
		dst = append(dst, 0x41, 0x01, 0x6a, 0x24)
		dst = appendU32(dst, g)
		dst = append(dst, 0x23)
		dst = appendU32(dst, g)
		dst = append(dst, 0x41)
		dst = appendU32(dst, yieldMask)
		dst = append(dst, 0x71, 0x45, 0x0d, 0x00) // i32.and; i32.eqz; br_if $yield
	} else if p.calls {
		dst = m.yieldSequence(dst, false, g)
	}
	if p.loops {
		dst = append(dst, 0x23)
		dst = appendU32(dst, g)
		dst = append(dst, 0x21)
		dst = appendU32(dst, p.counter)
	}
	if p.bodyBlock {
		dst = append(dst, opBlock)
		dst = append(dst, p.bt...)
	}
	return dst
}

// storeCounter appends "local.get c; global.set t" for a body with loops.
func (m *module) storeCounter(dst []byte, p *plan) []byte {
	if !m.form.yield || !p.loops {
		return dst
	}
	dst = append(dst, 0x20)
	dst = appendU32(dst, p.counter)
	dst = append(dst, 0x24)
	return appendU32(dst, m.ticksIndex())
}

// bodyEpilogue ends what bodyPrologue started, before the function's end.
func (m *module) bodyEpilogue(dst []byte, p *plan) []byte {
	if !m.form.yield {
		return dst
	}
	if p.bodyBlock {
		dst = append(dst, opEnd)
	}
	dst = m.storeCounter(dst, p)
	if p.entryLoop {
		dst = append(dst, 0x0f, opEnd) // return; end $yield
		dst = m.yield(dst)
		dst = append(dst, 0x0c, 0x00, opEnd, 0x00) // br $again; end $again; unreachable
	}
	return dst
}

// resultBlockType returns a block type with no parameters and the results of
// function type t: empty, one value type, or the index of a type in the
// module that has them. It returns nil if the module has no such type.
func (m *module) resultBlockType(t uint32) []byte {
	res := m.typeResults[t]
	switch {
	case len(res) == 1 && res[0] == 0:
		return []byte{blockTypeEmpty}
	case len(res) == 2 && res[0] == 1:
		return res[1:]
	}
	for i, r := range m.typeResults {
		if m.typeParams[i] == 0 && bytes.Equal(r, res) && i < 1<<20 {
			return appendS33(nil, int64(i))
		}
	}
	return nil
}

// appendS33 appends v (non-negative) as a signed LEB128.
func appendS33(dst []byte, v int64) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v == 0 && c&0x40 == 0 {
			return append(dst, c)
		}
		dst = append(dst, c|0x80)
	}
}

// function appends the instrumented body read from r to dst; t is the
// function's type index.
func (m *module) function(dst []byte, r reader, t uint32) ([]byte, error) {
	params := m.typeParams[t]
	groups, err := count(&r, 2)
	if err != nil {
		return nil, fmt.Errorf("locals: %w", err)
	}
	groupsStart := r.pos
	locals := uint64(params)
	for j := uint32(0); j < groups; j++ {
		n, err := r.u32()
		if err != nil {
			return nil, fmt.Errorf("locals group %d: %w", j, err)
		}
		locals += uint64(n)
		at := r.pos
		t, err := r.readByte()
		if err != nil {
			return nil, fmt.Errorf("locals group %d: %w", j, err)
		}
		if !isValType(t) {
			return nil, fmt.Errorf("locals group %d: unknown value type %#x at offset %#x", j, t, at)
		}
	}
	if locals > maxLocals {
		return nil, fmt.Errorf("%d locals, more than %d: %w", locals, maxLocals, ErrLimit)
	}
	info, err := scan(r)
	if err != nil {
		return nil, err
	}
	p := &plan{loops: info.loops, calls: info.calls, counter: uint32(locals)}
	if m.form.yield && p.loops {
		// One more local: the loop iteration counter.
		if locals >= 1<<31 || groups == ^uint32(0) {
			return nil, fmt.Errorf("too many locals (%d)", locals)
		}
		dst = appendU32(dst, groups+1)
		dst = append(dst, r.b[groupsStart:r.pos]...)
		dst = append(dst, 0x01, 0x7f)
	} else {
		dst = appendU32(dst, groups)
		dst = append(dst, r.b[groupsStart:r.pos]...)
	}
	if m.form.yield && (p.loops || p.calls) {
		p.bt = m.resultBlockType(t)
		p.entryLoop = p.calls && p.bt != nil
		p.bodyBlock = p.bt != nil
	}
	dst = m.bodyPrologue(dst, p)
	return m.instructions(dst, r, p)
}

// instructions copies the instructions of a body, instrumenting loops and
// renumbering the branches that leave a wrapped loop. scan has checked the
// structure, so errors here are limited to branch targets.
func (m *module) instructions(dst []byte, r reader, p *plan) ([]byte, error) {
	yields := m.form.yield
	stack := append(m.stack[:0], frame{}) // the function body's own label
	defer func() { m.stack = stack[:0] }()
	copied := r.pos
	for !r.done() {
		at := r.pos
		switch r.b[at] {
		case 0x0c, 0x0d, 0x0e: // br, br_if, br_table
			var err error
			if dst, err = m.branch(dst, &r, stack, r.b[copied:at]); err != nil {
				return nil, err
			}
			copied = r.pos
			continue
		case 0x0f, 0x12, 0x13: // return, return_call, return_call_indirect
			if yields && p.loops {
				dst = append(dst, r.b[copied:at]...)
				dst = m.storeCounter(dst, p)
				copied = at
			}
		}
		op, err := skipInstr(&r)
		if err != nil {
			return nil, err
		}
		switch op {
		case opBlock, opIf:
			stack = append(stack, frame{})
		case opLoop:
			wrap := false
			if yields {
				p, err := m.blockParams(r.b[at+1 : r.pos])
				if err != nil {
					return nil, fmt.Errorf("loop at offset %#x: %w", at, err)
				}
				wrap = p == 0
			}
			dst = append(dst, r.b[copied:at]...)
			if wrap {
				dst = m.loopPrologue(dst, r.b[at:r.pos], p.counter)
			} else {
				dst = append(dst, r.b[at:r.pos]...)
				if m.form.eagerFlag {
					dst = flagCheck(dst, m.flagIndex(), m.form)
				}
				if yields {
					dst = m.yieldSequence(dst, true, p.counter)
				}
			}
			copied = r.pos
			stack = append(stack, frame{wrapped: wrap})
		case opEnd:
			f := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if f.wrapped {
				dst = append(dst, r.b[copied:r.pos]...)
				dst = m.loopEpilogue(dst)
				copied = r.pos
			}
			if len(stack) == 0 {
				dst = append(dst, r.b[copied:at]...)
				dst = m.bodyEpilogue(dst, p)
				copied = at
				return append(dst, r.b[copied:r.end]...), nil
			}
		}
	}
	return nil, fmt.Errorf("body ends at offset %#x without its final end: %w", r.end, errTruncated)
}

// branch copies pending, then the br, br_if or br_table at r.pos with its
// label indexes renumbered for the wrapper labels between it and its target.
func (m *module) branch(dst []byte, r *reader, stack []frame, pending []byte) ([]byte, error) {
	at := r.pos
	op := r.b[at]
	r.pos++
	n := uint32(1)
	if op == 0x0e {
		var err error
		if n, err = r.u32(); err != nil {
			return nil, err
		}
		n++ // and the default
	}
	dst = append(dst, pending...)
	dst = append(dst, op)
	if op == 0x0e {
		dst = appendU32(dst, n-1)
	}
	for i := uint32(0); i < n; i++ {
		l, err := r.u32()
		if err != nil {
			return nil, err
		}
		if uint64(l) >= uint64(len(stack)) {
			return nil, fmt.Errorf("branch at offset %#x: label %d is out of range (depth %d)", at, l, len(stack))
		}
		out := l
		for _, f := range stack[len(stack)-int(l):] { // the frames the branch leaves
			if f.wrapped {
				out += wrapperLabels
			}
		}
		dst = appendU32(dst, out)
	}
	return dst, nil
}

// blockParams returns the number of parameters of a block type.
func (m *module) blockParams(bt []byte) (uint32, error) {
	if len(bt) == 1 && (bt[0] == blockTypeEmpty || isValType(bt[0])) {
		return 0, nil
	}
	r := reader{b: bt, end: len(bt)}
	idx, err := r.signed(33)
	if err != nil {
		return 0, err
	}
	if idx < 0 || idx >= int64(len(m.typeParams)) {
		return 0, fmt.Errorf("block type %d is out of range (%d types)", idx, len(m.typeParams))
	}
	return m.typeParams[idx], nil
}
