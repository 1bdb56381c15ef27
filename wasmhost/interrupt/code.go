package interrupt

import (
	"errors"
	"fmt"
)

// checkSequence returns the interrupt check for the flag global at index g:
//
//	global.get g; i32.eqz; if; else; unreachable; end
//
// It behaves like "global.get g; if; unreachable; end" but wazero's compiler
// lays the two out differently: with the trap in the then-arm it places the
// trap inline and the common path jumps over it at every loop iteration
// (1.5x on a tight loop); with the trap in the else-arm the common path falls
// through and the trap is moved out of the loop (see docs/BENCHMARKS.md).
func checkSequence(g uint32) []byte {
	c := []byte{0x23}
	c = appendU32(c, g)
	return append(c, 0x45, opIf, blockTypeEmpty, 0x05, 0x00, opEnd)
}

// code rewrites the code section, inserting the check at the start of every
// function body and after every loop instruction, and re-encodes the sizes.
func (m *module) code(r reader) error {
	n, err := r.u32()
	if err != nil {
		return fmt.Errorf("count: %w", err)
	}
	if n != m.definedFuncs {
		return fmt.Errorf("%d function bodies but the function section declares %d", n, m.definedFuncs)
	}
	m.codeDone = true
	m.check = checkSequence(m.flagIndex())
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
		fn, err = m.function(fn[:0], fr)
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

// function appends the instrumented body read from r to dst.
func (m *module) function(dst []byte, r reader) ([]byte, error) {
	start := r.pos
	groups, err := r.u32()
	if err != nil {
		return nil, fmt.Errorf("locals: %w", err)
	}
	for j := uint32(0); j < groups; j++ {
		if _, err := r.u32(); err != nil {
			return nil, fmt.Errorf("locals group %d: %w", j, err)
		}
		at := r.pos
		t, err := r.readByte()
		if err != nil {
			return nil, fmt.Errorf("locals group %d: %w", j, err)
		}
		if !isValType(t) {
			return nil, fmt.Errorf("locals group %d: unknown value type %#x at offset %#x", j, t, at)
		}
	}
	dst = append(dst, r.b[start:r.pos]...)
	dst = append(dst, m.check...)
	copied := r.pos
	depth := 0
	for !r.done() {
		op, err := skipInstr(&r)
		if err != nil {
			if errors.Is(err, errTruncated) {
				return nil, fmt.Errorf("instruction runs past the end of the body: %w", err)
			}
			return nil, err
		}
		switch op {
		case opBlock, opIf:
			depth++
		case opLoop:
			depth++
			dst = append(dst, r.b[copied:r.pos]...)
			dst = append(dst, m.check...)
			copied = r.pos
		case opEnd:
			depth--
			if depth < 0 {
				if !r.done() {
					return nil, fmt.Errorf("%d bytes after the body's final end at offset %#x", r.end-r.pos, r.pos)
				}
				return append(dst, r.b[copied:r.pos]...), nil
			}
		}
	}
	return nil, fmt.Errorf("body ends at offset %#x without its final end: %w", r.end, errTruncated)
}
