package interrupt

import (
	"errors"
	"fmt"
)

// errTruncated is wrapped by every error about input that ends too early.
var errTruncated = errors.New("unexpected end of input")

// reader decodes the primitive encodings of the wasm binary format from
// b[pos:end]. Offsets it reports are positions in the whole module, so an
// error names the byte a tool like wasm-objdump would show.
type reader struct {
	b   []byte
	pos int
	end int
}

// sub returns a reader over the next n bytes and advances r past them.
func (r *reader) sub(n uint32) (reader, error) {
	if uint64(n) > uint64(r.end-r.pos) {
		return reader{}, fmt.Errorf("length %d at offset %#x runs past the end (%d bytes left): %w",
			n, r.pos, r.end-r.pos, errTruncated)
	}
	s := reader{b: r.b, pos: r.pos, end: r.pos + int(n)}
	r.pos += int(n)
	return s, nil
}

func (r *reader) done() bool { return r.pos >= r.end }

func (r *reader) readByte() (byte, error) {
	if r.pos >= r.end {
		return 0, fmt.Errorf("at offset %#x: %w", r.pos, errTruncated)
	}
	c := r.b[r.pos]
	r.pos++
	return c, nil
}

// skip advances past n bytes.
func (r *reader) skip(n int) error {
	if n > r.end-r.pos {
		return fmt.Errorf("at offset %#x: need %d bytes, %d left: %w", r.pos, n, r.end-r.pos, errTruncated)
	}
	r.pos += n
	return nil
}

// u32 reads an unsigned LEB128 of at most 5 bytes whose value fits 32 bits.
func (r *reader) u32() (uint32, error) {
	start := r.pos
	var v uint32
	for i := 0; i < 5; i++ {
		c, err := r.readByte()
		if err != nil {
			return 0, err
		}
		if i == 4 && c&0xf0 != 0 {
			return 0, fmt.Errorf("u32 at offset %#x overflows 32 bits", start)
		}
		v |= uint32(c&0x7f) << (7 * i)
		if c&0x80 == 0 {
			return v, nil
		}
	}
	return 0, fmt.Errorf("u32 at offset %#x is longer than 5 bytes", start)
}

// signed reads a signed LEB128 of at most bits bits (32, 33 or 64) and
// returns its value; values of 64 bits are returned truncated to int64.
func (r *reader) signed(bits int) (int64, error) {
	start := r.pos
	maxBytes := (bits + 6) / 7
	var v int64
	var shift int
	for i := 0; i < maxBytes; i++ {
		c, err := r.readByte()
		if err != nil {
			return 0, err
		}
		if i == maxBytes-1 {
			// The unused high bits of the last byte must all equal the sign bit.
			used := bits - 7*i // value bits carried by this byte, sign included
			mask := byte(0x7f) &^ (byte(1)<<(used-1) - 1)
			if c&0x80 != 0 || (c&mask != 0 && c&mask != mask) {
				return 0, fmt.Errorf("s%d at offset %#x is malformed", bits, start)
			}
		}
		v |= int64(c&0x7f) << shift
		shift += 7
		if c&0x80 == 0 {
			if shift < 64 && c&0x40 != 0 {
				v |= -1 << shift
			}
			return v, nil
		}
	}
	return 0, fmt.Errorf("s%d at offset %#x is longer than %d bytes", bits, start, maxBytes)
}

// name reads a length-prefixed byte string.
func (r *reader) name() ([]byte, error) {
	n, err := r.u32()
	if err != nil {
		return nil, err
	}
	s, err := r.sub(n)
	if err != nil {
		return nil, err
	}
	return s.b[s.pos:s.end], nil
}

// appendU32 appends v as an unsigned LEB128.
func appendU32(dst []byte, v uint32) []byte {
	for v >= 0x80 {
		dst = append(dst, byte(v)|0x80)
		v >>= 7
	}
	return append(dst, byte(v))
}
