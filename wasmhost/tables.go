package wasmhost

import (
	"errors"
	"fmt"
)

// MaxTableElements is how many elements a task's tables may hold in all,
// at start and after table.grow. wazero keeps 8 bytes of host memory per
// element outside the task's linear memory (and so outside its memory
// limit), and a table declared without a maximum could otherwise grow to
// 2^32 elements: one table.grow would ask the host for 32GiB and end the
// process. 1M elements (8MiB) is far more than a task needs: a Go task's
// table holds one element per function, a few thousand.
const MaxTableElements = 1 << 20

// boundTables rewrites the table section of a valid-looking module so that
// the tables' maxima add up to at most MaxTableElements: each table keeps
// its minimum and may grow by an equal share of what is left. A declared
// maximum below that share stays. Modules whose tables need more at start
// are refused. A module without tables is returned as it is.
func boundTables(wasm []byte) ([]byte, error) {
	r := byteReader{b: wasm, pos: 8}
	for r.pos < len(wasm) {
		start := r.pos
		id, _ := r.byte()
		size, err := r.u32()
		if err != nil {
			return nil, fmt.Errorf("invalid wasm module: section %d header: %w", id, err)
		}
		if uint64(size) > uint64(len(wasm)-r.pos) {
			return nil, fmt.Errorf("invalid wasm module: truncated: section %d claims %d bytes, %d remain", id, size, len(wasm)-r.pos)
		}
		end := r.pos + int(size)
		if id != 4 {
			r.pos = end
			continue
		}
		sec, err := boundTableSection(wasm[r.pos:end])
		if err != nil {
			return nil, err
		}
		out := make([]byte, 0, len(wasm)+len(sec))
		out = append(out, wasm[:start]...)
		out = append(out, 4)
		out = appendU32(out, uint32(len(sec)))
		out = append(out, sec...)
		return append(out, wasm[end:]...), nil
	}
	return wasm, nil
}

type tableType struct {
	elem     byte
	min, max uint32
	hasMax   bool
}

// boundTableSection returns the table section's content with bounded maxima.
func boundTableSection(b []byte) ([]byte, error) {
	r := byteReader{b: b}
	n, err := r.u32()
	if err != nil {
		return nil, fmt.Errorf("invalid wasm module: table section: %w", err)
	}
	if uint64(n) > uint64(len(b)) { // a table takes at least 3 bytes
		return nil, fmt.Errorf("invalid wasm module: table section: %d tables in %d bytes", n, len(b))
	}
	tables := make([]tableType, n)
	var sumMin uint64
	for k := range tables {
		t := &tables[k]
		if t.elem, err = r.byte(); err == nil {
			var flags byte
			if flags, err = r.byte(); err == nil {
				switch flags {
				case 0, 1:
					t.hasMax = flags == 1
					if t.min, err = r.u32(); err == nil && t.hasMax {
						t.max, err = r.u32()
					}
				default:
					err = fmt.Errorf("unsupported limits flags %#x", flags)
				}
			}
		}
		if err != nil {
			return nil, fmt.Errorf("invalid wasm module: table %d: %w", k, err)
		}
		if t.elem != 0x70 && t.elem != 0x6f {
			return nil, fmt.Errorf("invalid wasm module: table %d: unknown element type %#x", k, t.elem)
		}
		if t.hasMax && t.max < t.min {
			return nil, fmt.Errorf("invalid wasm module: table %d: maximum %d below minimum %d", k, t.max, t.min)
		}
		sumMin += uint64(t.min)
		if sumMin > MaxTableElements {
			return nil, fmt.Errorf("invalid task module: table %d: the tables need %d elements at start, more than the %d a task may have", k, sumMin, MaxTableElements)
		}
	}
	if r.pos != len(b) {
		return nil, errors.New("invalid wasm module: table section: trailing bytes")
	}
	out := appendU32(nil, n)
	if n == 0 {
		return out, nil
	}
	share := (MaxTableElements - uint32(sumMin)) / n
	for _, t := range tables {
		limit := t.min + share
		if t.hasMax && t.max < limit {
			limit = t.max
		}
		out = append(out, t.elem, 1)
		out = appendU32(out, t.min)
		out = appendU32(out, limit)
	}
	return out, nil
}

// appendU32 appends v as unsigned LEB128.
func appendU32(b []byte, v uint32) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}
