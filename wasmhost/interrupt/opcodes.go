package interrupt

import "fmt"

// Opcodes and value types the instrumenter must recognise.
const (
	opBlock   = 0x02
	opLoop    = 0x03
	opIf      = 0x04
	opEnd     = 0x0b
	opPrefixM = 0xfc // bulk memory, table and saturating truncation
	opPrefixV = 0xfd // SIMD
	opPrefixA = 0xfe // threads (atomics)

	blockTypeEmpty = 0x40
)

// isValType reports whether c is a one-byte value type wazero accepts:
// i32, i64, f32, f64, v128, funcref, externref.
func isValType(c byte) bool {
	switch c {
	case 0x7f, 0x7e, 0x7d, 0x7c, 0x7b, 0x70, 0x6f:
		return true
	}
	return false
}

// skipInstr decodes the instruction at r.pos and advances past it. It returns
// the opcode (the prefix for prefixed instructions) so the caller can follow
// block nesting. Instructions of proposals wazero does not enable by default
// and that this package does not know (exception handling, typed function
// references, relaxed SIMD, GC) are reported as unknown.
func skipInstr(r *reader) (byte, error) {
	at := r.pos
	op, err := r.readByte()
	if err != nil {
		return 0, err
	}
	switch {
	case op == 0x00, op == 0x01, op == 0x05, op == opEnd, op == 0x0f, // unreachable nop else end return
		op == 0x1a, op == 0x1b, // drop select
		op == 0xd1,               // ref.is_null
		op >= 0x45 && op <= 0xc4: // numeric, sign extension
		return op, nil
	case op == opBlock, op == opLoop, op == opIf:
		return op, skipBlockType(r)
	case op == 0x0c, op == 0x0d, // br br_if
		op == 0x10, op == 0x12, // call return_call
		op >= 0x20 && op <= 0x24, // local.get/set/tee global.get/set
		op == 0x25, op == 0x26,   // table.get table.set
		op == 0xd2,             // ref.func
		op == 0x3f, op == 0x40: // memory.size memory.grow (memory index)
		_, err = r.u32()
		return op, err
	case op == 0x0e: // br_table
		n, err := r.u32()
		if err != nil {
			return op, err
		}
		for i := uint64(0); i <= uint64(n); i++ { // n targets and the default
			if _, err := r.u32(); err != nil {
				return op, err
			}
		}
		return op, nil
	case op == 0x11, op == 0x13: // call_indirect return_call_indirect: type, table
		return op, skipU32s(r, 2)
	case op == 0x1c: // select t*
		n, err := r.u32()
		if err != nil {
			return op, err
		}
		return op, r.skip(int(min(n, uint32(r.end-r.pos+1))))
	case op >= 0x28 && op <= 0x3e: // loads and stores
		return op, skipU32s(r, 2)
	case op == 0x41:
		_, err = r.signed(32)
		return op, err
	case op == 0x42:
		_, err = r.signed(64)
		return op, err
	case op == 0x43:
		return op, r.skip(4)
	case op == 0x44:
		return op, r.skip(8)
	case op == 0xd0: // ref.null reftype
		t, err := r.readByte()
		if err == nil && t != 0x70 && t != 0x6f {
			err = fmt.Errorf("ref.null at offset %#x: unknown reference type %#x", at, t)
		}
		return op, err
	case op == opPrefixM:
		return op, skipMisc(r, at)
	case op == opPrefixV:
		return op, skipSIMD(r, at)
	case op == opPrefixA:
		return op, skipAtomic(r, at)
	}
	return op, fmt.Errorf("unknown opcode %#x at offset %#x", op, at)
}

// skipBlockType skips a block type: empty, one value type, or a type index
// (a non-negative s33).
func skipBlockType(r *reader) error {
	if r.pos < r.end {
		if c := r.b[r.pos]; c == blockTypeEmpty || isValType(c) {
			r.pos++
			return nil
		}
	}
	at := r.pos
	v, err := r.signed(33)
	if err != nil {
		return err
	}
	if v < 0 {
		return fmt.Errorf("block type at offset %#x: unknown type %d", at, v)
	}
	return nil
}

func skipU32s(r *reader, n int) error {
	for i := 0; i < n; i++ {
		if _, err := r.u32(); err != nil {
			return err
		}
	}
	return nil
}

// skipMisc skips the immediates of a 0xfc-prefixed instruction.
func skipMisc(r *reader, at int) error {
	sub, err := r.u32()
	if err != nil {
		return err
	}
	switch {
	case sub <= 7: // saturating truncations
		return nil
	case sub == 8: // memory.init data, mem
		return skipU32s(r, 2)
	case sub == 9: // data.drop
		return skipU32s(r, 1)
	case sub == 10: // memory.copy mem, mem
		return skipU32s(r, 2)
	case sub == 11: // memory.fill mem
		return skipU32s(r, 1)
	case sub == 12, sub == 14: // table.init elem, table; table.copy table, table
		return skipU32s(r, 2)
	case sub == 13, sub == 15, sub == 16, sub == 17: // elem.drop table.grow table.size table.fill
		return skipU32s(r, 1)
	}
	return fmt.Errorf("unknown opcode 0xfc %d at offset %#x", sub, at)
}

// skipSIMD skips the immediates of a 0xfd-prefixed instruction.
func skipSIMD(r *reader, at int) error {
	sub, err := r.u32()
	if err != nil {
		return err
	}
	switch {
	case sub <= 11, sub == 92, sub == 93: // v128 loads and store, load_zero
		return skipU32s(r, 2)
	case sub == 12, sub == 13: // v128.const, i8x16.shuffle
		return r.skip(16)
	case sub >= 21 && sub <= 34: // extract_lane, replace_lane
		return r.skip(1)
	case sub >= 84 && sub <= 91: // load_lane, store_lane: memarg, lane
		if err := skipU32s(r, 2); err != nil {
			return err
		}
		return r.skip(1)
	case sub <= 255: // no immediates
		return nil
	}
	return fmt.Errorf("unknown opcode 0xfd %d at offset %#x", sub, at)
}

// skipAtomic skips the immediates of a 0xfe-prefixed instruction.
func skipAtomic(r *reader, at int) error {
	sub, err := r.u32()
	if err != nil {
		return err
	}
	switch {
	case sub == 3: // atomic.fence 0x00
		return r.skip(1)
	case sub <= 2, sub >= 0x10 && sub <= 0x4e:
		return skipU32s(r, 2)
	}
	return fmt.Errorf("unknown opcode 0xfe %d at offset %#x", sub, at)
}
