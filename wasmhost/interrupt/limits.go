package interrupt

import (
	"errors"
	"fmt"
)

// wazero v1.12 sizes several allocations by counts it reads from the module
// before checking them against the bytes that follow: a vector count in the
// global, table, memory, element, data or tag section, a data segment's
// length, the sum of a function's locals, the counts of the name section. A
// module of a few bytes can so make CompileModule allocate gigabytes and
// kill the process. Instrument runs first, so it rejects such modules: every
// count must fit in the bytes that follow it (each entry takes at least one
// byte), and a function may declare at most maxLocals locals.

// maxLocals is the most locals (parameters included) a function may have,
// the limit V8 and wasmtime apply.
const maxLocals = 50_000

// ErrLimit is wrapped by the errors for modules that exceed a limit
// Instrument enforces to protect the engine (see maxLocals).
var ErrLimit = errors.New("limit exceeded")

// count reads a vector count and checks that the vector can fit in what is
// left of r, at least min bytes an entry.
func count(r *reader, min int) (uint32, error) {
	at := r.pos
	n, err := r.u32()
	if err != nil {
		return 0, err
	}
	if uint64(n)*uint64(min) > uint64(r.end-r.pos) {
		return 0, fmt.Errorf("count %d at offset %#x does not fit in the %d bytes that follow: %w", n, at, r.end-r.pos, ErrLimit)
	}
	return n, nil
}

// checkCounts checks the vector counts of a section Instrument copies
// without rewriting.
func checkCounts(id byte, r reader) error {
	switch id {
	case 4, 5, secTag: // table, memory, tag
		_, err := count(&r, 2)
		return err
	case 9:
		return checkElements(r)
	case 11:
		return checkData(r)
	}
	return nil
}

// checkData checks every data segment's length.
func checkData(r reader) error {
	n, err := count(&r, 2)
	if err != nil {
		return err
	}
	for i := uint32(0); i < n; i++ {
		flags, err := r.u32()
		if err != nil {
			return fmt.Errorf("data segment %d: %w", i, err)
		}
		switch flags {
		case 0:
			err = skipConstExpr(&r)
		case 1:
		case 2:
			if _, err = r.u32(); err == nil {
				err = skipConstExpr(&r)
			}
		default:
			return fmt.Errorf("data segment %d: unknown flags %d", i, flags)
		}
		if err != nil {
			return fmt.Errorf("data segment %d: %w", i, err)
		}
		size, err := count(&r, 1)
		if err != nil {
			return fmt.Errorf("data segment %d: %w", i, err)
		}
		r.pos += int(size)
	}
	return nil
}

// checkElements checks the counts of every element segment.
func checkElements(r reader) error {
	n, err := count(&r, 2)
	if err != nil {
		return err
	}
	for i := uint32(0); i < n; i++ {
		if err := checkElement(&r); err != nil {
			return fmt.Errorf("element segment %d: %w", i, err)
		}
	}
	return nil
}

func checkElement(r *reader) error {
	flags, err := r.u32()
	if err != nil {
		return err
	}
	if flags > 7 {
		return fmt.Errorf("unknown flags %d", flags)
	}
	if flags&2 != 0 && flags&1 == 0 { // explicit table index
		if _, err := r.u32(); err != nil {
			return err
		}
	}
	if flags&1 == 0 { // active: offset expression
		if err := skipConstExpr(r); err != nil {
			return err
		}
	}
	if flags&3 != 0 { // element kind or reference type
		if _, err := r.readByte(); err != nil {
			return err
		}
	}
	n, err := count(r, 1)
	if err != nil {
		return err
	}
	for j := uint32(0); j < n; j++ {
		if flags&4 == 0 {
			_, err = r.u32() // function index
		} else {
			err = skipConstExpr(r)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// skipConstExpr skips a constant expression up to and including its end.
func skipConstExpr(r *reader) error {
	for {
		op, err := skipInstr(r)
		if err != nil {
			return err
		}
		switch op {
		case opEnd:
			return nil
		case opBlock, opLoop, opIf:
			return fmt.Errorf("control instruction %#x in a constant expression", op)
		}
	}
}

// checkNameSection checks the counts of the function and local names.
func checkNameSection(r reader) error {
	for !r.done() {
		id, err := r.readByte()
		if err != nil {
			return err
		}
		size, err := r.u32()
		if err != nil {
			return err
		}
		sub, err := r.sub(size)
		if err != nil {
			return err
		}
		switch id {
		case 1: // function names: vec(index, name)
			_, err = count(&sub, 2)
		case 2: // local names: vec(index, vec(index, name))
			var n uint32
			if n, err = count(&sub, 2); err == nil {
				for i := uint32(0); i < n && err == nil; i++ {
					if _, err = sub.u32(); err == nil {
						var m uint32
						if m, err = count(&sub, 2); err == nil {
							for j := uint32(0); j < m && err == nil; j++ {
								if _, err = sub.u32(); err == nil {
									_, err = sub.name()
								}
							}
						}
					}
				}
			}
		}
		if err != nil {
			return fmt.Errorf("name subsection %d: %w", id, err)
		}
	}
	return nil
}
