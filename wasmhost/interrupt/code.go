package interrupt

import (
	"errors"
	"fmt"
)

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
	loops bool     // has a loop instruction
	calls bool     // has a call, call_indirect or tail call
	loopW []uint32 // weight of each loop, in the order of the loop instructions
}

// openBlock is a block, loop or if that scan has entered and not left.
type openBlock struct {
	start int // offset of a loop instruction; -1 for a block or if
	loop  int // the loop's index in bodyInfo.loopW
}

// scan walks the instructions of a body (after its locals) to its final end.
// open and loopW are scratch space reused across calls.
func scan(r reader, open []openBlock, loopW []uint32) (bodyInfo, []openBlock, error) {
	info := bodyInfo{loopW: loopW[:0]}
	open = open[:0]
	for !r.done() {
		at := r.pos
		op, err := skipInstr(&r)
		if err != nil {
			if errors.Is(err, errTruncated) {
				return info, open, fmt.Errorf("instruction runs past the end of the body: %w", err)
			}
			return info, open, err
		}
		switch op {
		case opBlock, opIf:
			open = append(open, openBlock{start: -1})
		case opLoop:
			open = append(open, openBlock{start: at, loop: len(info.loopW)})
			info.loops = true
			info.loopW = append(info.loopW, 0) // set at its end
		case 0x10, 0x11, 0x12, 0x13:
			info.calls = true
		case opEnd:
			if len(open) == 0 {
				if !r.done() {
					return info, open, fmt.Errorf("%d bytes after the body's final end at offset %#x", r.end-r.pos, r.pos)
				}
				return info, open, nil
			}
			if b := open[len(open)-1]; b.start >= 0 {
				info.loopW[b.loop] = weight(r.pos - b.start)
			}
			open = open[:len(open)-1]
		}
	}
	return info, open, fmt.Errorf("body ends at offset %#x without its final end: %w", r.end, errTruncated)
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
	info, open, err := scan(r, m.open, m.loopW)
	m.open, m.loopW = open, info.loopW
	if err != nil {
		return nil, err
	}
	p := &plan{loops: info.loops, calls: info.calls, counter: uint32(locals),
		weight: weight(r.end - r.pos), loopW: info.loopW}
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
		p.depth = p.calls && p.bodyBlock
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
	loops := 0 // loop instructions seen
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
			if yields && (p.loops || p.depth) {
				dst = append(dst, r.b[copied:at]...)
				dst = m.leave(dst, p)
				copied = at
			}
		}
		op, err := skipInstr(&r)
		if err != nil {
			return nil, err
		}
		switch op {
		case opBlock, opIf:
			stack = append(stack, frame{wrappedUpTo: stack[len(stack)-1].wrappedUpTo})
		case opLoop:
			wrap := false
			if yields {
				params, err := m.blockParams(r.b[at+1 : r.pos])
				if err != nil {
					return nil, fmt.Errorf("loop at offset %#x: %w", at, err)
				}
				wrap = params == 0
			}
			w := p.loopW[loops]
			loops++
			dst = append(dst, r.b[copied:at]...)
			if wrap {
				dst = m.loopPrologue(dst, r.b[at:r.pos], p.counter, w)
			} else {
				dst = append(dst, r.b[at:r.pos]...)
				if m.form.eagerFlag {
					dst = flagCheck(dst, m.flagIndex(), m.form)
				}
				if yields {
					dst = m.yieldSequence(dst, true, p.counter, w)
				}
			}
			copied = r.pos
			f := frame{wrapped: wrap, wrappedUpTo: stack[len(stack)-1].wrappedUpTo}
			if wrap {
				f.wrappedUpTo++
			}
			stack = append(stack, f)
		case opEnd:
			f := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if f.wrapped {
				dst = append(dst, r.b[copied:r.pos]...)
				dst = m.loopEpilogue(dst, p.counter)
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
		// The frames the branch leaves are the l innermost ones.
		inner, target := stack[len(stack)-1], stack[len(stack)-1-int(l)]
		wrapped := inner.wrappedUpTo - target.wrappedUpTo
		dst = appendU32(dst, l+uint32(wrapped)*wrapperLabels)
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
