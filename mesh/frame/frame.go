// Package frame is the mesh's wire framing: a 5-byte header (message type,
// payload length as big-endian uint32) followed by a CBOR payload. Readers
// enforce a size limit before allocating, so a peer cannot make a node
// allocate more than the limit by announcing a large frame.
package frame

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/fxamacker/cbor/v2"
)

// HeaderSize is the length of a frame header in bytes.
const HeaderSize = 5

// DefaultMaxSize is the payload limit readers apply when given 0.
const DefaultMaxSize = 1 << 20

// Type says what a frame's payload is. The mesh defines the values.
type Type uint8

// Errors of reading frames.
var (
	ErrTooLarge  = errors.New("frame too large")
	ErrTruncated = errors.New("frame truncated")
)

// Write writes one frame. It makes a single Write call so that frames from
// concurrent writers on distinct streams never interleave.
func Write(w io.Writer, t Type, payload []byte) error {
	buf := make([]byte, HeaderSize+len(payload))
	buf[0] = byte(t)
	binary.BigEndian.PutUint32(buf[1:], uint32(len(payload)))
	copy(buf[HeaderSize:], payload)
	_, err := w.Write(buf)
	return err
}

// Read reads one frame, refusing payloads larger than max (DefaultMaxSize
// when 0) before reading them. A stream that ends inside a frame gives
// ErrTruncated; one that ends before any byte gives io.EOF.
func Read(r io.Reader, max int) (Type, []byte, error) {
	if max <= 0 {
		max = DefaultMaxSize
	}
	var h [HeaderSize]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		if err == io.ErrUnexpectedEOF {
			return 0, nil, fmt.Errorf("header: %w", ErrTruncated)
		}
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(h[1:])
	if uint64(n) > uint64(max) {
		return 0, nil, fmt.Errorf("type %d: %d bytes, limit %d: %w", h[0], n, max, ErrTooLarge)
	}
	p := make([]byte, n)
	if _, err := io.ReadFull(r, p); err != nil {
		if err == io.ErrUnexpectedEOF || err == io.EOF {
			return 0, nil, fmt.Errorf("type %d: payload: %w", h[0], ErrTruncated)
		}
		return 0, nil, err
	}
	return Type(h[0]), p, nil
}

var (
	encMode   cbor.EncMode
	decMode   cbor.DecMode
	looseMode cbor.DecMode
)

func init() {
	var err error
	if encMode, err = cbor.CoreDetEncOptions().EncMode(); err != nil {
		panic(err)
	}
	opts := cbor.DecOptions{
		DupMapKey:        cbor.DupMapKeyEnforcedAPF,
		MaxNestedLevels:  16,
		MaxArrayElements: 65536,
		MaxMapPairs:      65536,
		IndefLength:      cbor.IndefLengthForbidden,
	}
	if looseMode, err = opts.DecMode(); err != nil {
		panic(err)
	}
	opts.ExtraReturnErrors = cbor.ExtraDecErrorUnknownField
	if decMode, err = opts.DecMode(); err != nil {
		panic(err)
	}
}

// Marshal encodes v as deterministic CBOR.
func Marshal(v any) ([]byte, error) { return encMode.Marshal(v) }

// Unmarshal decodes CBOR strictly: unknown fields, duplicate keys,
// indefinite lengths and deep nesting are errors.
func Unmarshal(b []byte, v any) error { return decMode.Unmarshal(b, v) }

// UnmarshalLoose decodes CBOR as Unmarshal does but skips fields v does
// not have: for reading a protocol version out of a message of another
// version before deciding how to read the rest.
func UnmarshalLoose(b []byte, v any) error { return looseMode.Unmarshal(b, v) }

// WriteMsg encodes v and writes it as one frame of type t.
func WriteMsg(w io.Writer, t Type, v any) error {
	b, err := Marshal(v)
	if err != nil {
		return fmt.Errorf("encode type %d: %w", t, err)
	}
	return Write(w, t, b)
}
