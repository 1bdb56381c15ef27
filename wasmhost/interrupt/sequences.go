package interrupt

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

// addCount appends "c += w" for the local (or global) counter c and leaves on
// the stack whether c has reached yieldThreshold:
//
//	get c; i32.const w; i32.add; local.tee c (global: global.set c; global.get c)
//	i32.const yieldThreshold; i32.ge_u
func addCount(dst []byte, local bool, c, w uint32) []byte {
	get, set := byte(0x23), byte(0x24)
	if local {
		get = 0x20
	}
	dst = append(dst, get)
	dst = appendU32(dst, c)
	dst = append(dst, 0x41)
	dst = appendS33(dst, int64(w))
	dst = append(dst, 0x6a) // i32.add
	if local {
		dst = append(dst, 0x22) // local.tee
		dst = appendU32(dst, c)
	} else {
		dst = append(dst, set)
		dst = appendU32(dst, c)
		dst = append(dst, get)
		dst = appendU32(dst, c)
	}
	dst = append(dst, 0x41)
	dst = appendS33(dst, yieldThreshold)
	return append(dst, 0x4f) // i32.ge_u
}

// resetCount appends "c = 0" for the local (or global) counter c.
func resetCount(dst []byte, local bool, c uint32) []byte {
	dst = append(dst, 0x41, 0x00, 0x24)
	if local {
		dst[len(dst)-1] = 0x21
	}
	return appendU32(dst, c)
}

// yieldSequence counts w with the local (or global) counter c and yields to
// Go when it reaches the threshold:
//
//	<count>; i32.eqz; if; else; c = 0; i32.const 0; memory.grow 0; drop; <flag check>; end
//
// The yield is needed because Go cannot preempt a goroutine while it runs
// wazero's compiled code: a loop that never leaves it holds its thread, and
// when the garbage collector stops the world it waits for that goroutine
// forever, with every other goroutine (including the timer that would raise
// the flag) stopped. memory.grow is the cheapest instruction that wazero
// implements in Go; growing by 0 pages changes nothing. This inline form is
// used where the wrapped forms of loopPrologue and bodyPrologue cannot be.
func (m *module) yieldSequence(dst []byte, local bool, c, w uint32) []byte {
	dst = addCount(dst, local, c, w)
	dst = append(dst, 0x45, opIf, blockTypeEmpty, 0x05)
	dst = resetCount(dst, local, c)
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

// frame is an open block, loop or if of the original code while a body is
// rewritten.
type frame struct {
	wrapped     bool // a loop wrapped by loopPrologue/loopEpilogue
	wrappedUpTo int  // wrapped frames from the body's up to this one, included
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
//	        <count w with c>; br_if $yield
//	        ...the loop body, branches that leave the loop renumbered...
//	      end
//	      br $done
//	    end
//	    c = 0; i32.const 0; memory.grow 0; drop   ;; yield to Go
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
func (m *module) loopPrologue(dst, loop []byte, c, w uint32) []byte {
	bt := loop[1:]
	dst = append(dst, opBlock)
	dst = append(dst, bt...)
	dst = append(dst, opLoop, blockTypeEmpty, opBlock, blockTypeEmpty)
	dst = append(dst, loop...)
	if m.form.eagerFlag {
		dst = flagCheck(dst, m.flagIndex(), m.form)
	}
	dst = addCount(dst, true, c, w)
	return append(dst, 0x0d, 0x01) // br_if $yield
}

// loopEpilogue follows the end of a loop that loopPrologue wrapped.
func (m *module) loopEpilogue(dst []byte, c uint32) []byte {
	dst = append(dst, 0x0c, 0x02, opEnd) // br $done; end $yield
	dst = resetCount(dst, true, c)
	dst = m.yield(dst)
	return append(dst,
		0x0c, 0x00, opEnd, // br $again; end $again
		0x00, opEnd, // unreachable; end $done
	)
}

// plan is how one function body is instrumented.
type plan struct {
	loops     bool     // the body has loops: it gets a counter local
	counter   uint32   // the counter's local index
	calls     bool     // the body makes calls: its entries are counted
	bt        []byte   // block type of the function's results, nil if the module has none
	entryLoop bool     // the entry yield is wrapped (calls and bt)
	bodyBlock bool     // the original body is wrapped in a block (bt, and loops or calls)
	weight    uint32   // what an entry counts (see weight)
	loopW     []uint32 // what an iteration of each loop counts, in the order of the loops
	depth     bool     // entries and exits move the call depth (calls and a body block)
}

// bodyPrologue starts an instrumented body. For a function that makes calls
// and loops it emits (parts are left out for bodies without calls or loops):
//
//	<flag check, if eager>
//	loop                ;; $again
//	  block             ;; $yield
//	    <count w with t>; br_if $yield
//	    global.get t; local.set c
//	    block bt        ;; $body: a branch to the function's label now lands here
//	      ...the original body; before each return: local.get c; global.set t...
//	    end
//	    local.get c; global.set t
//	    return
//	  end
//	  t = 0; i32.const 0; memory.grow 0; drop; <flag check>
//	  br $again
//	end
//	unreachable
//
// The counter t counts function entries and, through the loop counters that
// start from it and are stored back on the way out, loop iterations of all
// activations, each weighted by the size of the code it may run (see
// weight), so the code yields after about as much work wherever it happens:
// a loop that calls a function with a short loop many times yields as often
// as one long loop, and a loop with a huge body more often than a tight one.
//
// Like loopPrologue, the structure keeps the yield off the path that runs;
// with the yield inline at the entry (yieldSequence) the common path jumps
// over it at every call, which measured the same on fib (1.29x against
// 1.28x): the cost there is the counter's load and store. The block around
// the body is needed anyway, so that every way out stores the loop counter.
func (m *module) bodyPrologue(dst []byte, p *plan) []byte {
	if m.form.eagerFlag {
		dst = flagCheck(dst, m.flagIndex(), m.form)
	}
	if !m.form.yield {
		return dst
	}
	if p.depth {
		dst = m.depthEnter(dst)
	}
	g := m.ticksIndex()
	if p.entryLoop {
		dst = append(dst, opLoop, blockTypeEmpty, opBlock, blockTypeEmpty)
		dst = addCount(dst, false, g, p.weight)
		dst = append(dst, 0x0d, 0x00) // br_if $yield
	} else if p.calls {
		dst = m.yieldSequence(dst, false, g, p.weight)
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

// leave appends what every way out of an instrumented body runs: the loop
// counter stored back and the call depth decremented.
func (m *module) leave(dst []byte, p *plan) []byte {
	dst = m.storeCounter(dst, p)
	if p.depth {
		dst = m.depthLeave(dst)
	}
	return dst
}

// depthEnter appends "depth += 1; if depth > MaxDepth { unreachable }".
func (m *module) depthEnter(dst []byte) []byte {
	d := m.depthIndex()
	dst = append(dst, 0x23)
	dst = appendU32(dst, d)
	dst = append(dst, 0x41, 0x01, 0x6a, 0x24) // i32.const 1; i32.add; global.set
	dst = appendU32(dst, d)
	dst = append(dst, 0x23)
	dst = appendU32(dst, d)
	dst = append(dst, 0x41)
	dst = appendS33(dst, MaxDepth)
	return append(dst, 0x4b, opIf, blockTypeEmpty, 0x00, opEnd) // i32.gt_u; if; unreachable; end
}

// depthLeave appends "depth -= 1".
func (m *module) depthLeave(dst []byte) []byte {
	d := m.depthIndex()
	dst = append(dst, 0x23)
	dst = appendU32(dst, d)
	dst = append(dst, 0x41, 0x01, 0x6b, 0x24) // i32.const 1; i32.sub; global.set
	return appendU32(dst, d)
}

// bodyEpilogue ends what bodyPrologue started, before the function's end.
func (m *module) bodyEpilogue(dst []byte, p *plan) []byte {
	if !m.form.yield {
		return dst
	}
	if p.bodyBlock {
		dst = append(dst, opEnd)
	}
	dst = m.leave(dst, p)
	if p.entryLoop {
		dst = append(dst, 0x0f, opEnd) // return; end $yield
		dst = resetCount(dst, false, m.ticksIndex())
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
	if m.resultTypes == nil { // built once: a map keeps this linear
		m.resultTypes = make(map[string]uint32)
		for i, r := range m.typeResults {
			if _, ok := m.resultTypes[string(r)]; !ok && m.typeParams[i] == 0 {
				m.resultTypes[string(r)] = uint32(i)
			}
		}
	}
	if i, ok := m.resultTypes[string(res)]; ok {
		return appendS33(nil, int64(i))
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
