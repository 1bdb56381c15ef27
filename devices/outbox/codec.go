package outbox

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Message is one entry of the outbox.
type Message struct {
	// ID identifies the message for acknowledgement and deduplication;
	// required, at most 255 bytes.
	ID string
	// Dest is where it goes (a topic, a node, "cloud"); required, no NUL.
	Dest string
	// Payload is the body.
	Payload []byte
	// Created is set by Append when zero.
	Created time.Time
	// Seq is the outbox's sequence number, set by Append; it orders
	// messages across destinations.
	Seq uint64
}

// size is what a message counts against MaxBytes.
func (m *Message) size() int64 { return int64(len(m.ID) + len(m.Dest) + len(m.Payload)) }

func (m *Message) validate() error {
	switch {
	case m.ID == "":
		return errors.New("message without id")
	case len(m.ID) > 255:
		return fmt.Errorf("message id %.20q...: longer than 255 bytes", m.ID)
	case m.Dest == "":
		return fmt.Errorf("message %q: empty destination", m.ID)
	case strings.IndexByte(m.Dest, 0) >= 0:
		return fmt.Errorf("message %q: destination contains NUL", m.ID)
	}
	return nil
}

// Keys: 'm'+seq → encoded message; 'd'+dest+0+seq → empty (per-destination
// order); 'a'+id → empty with TTL (acknowledged, for dedupe); "_format";
// "_seq"; "_epoch".
const (
	prefixMsg   = 'm'
	prefixDest  = 'd'
	prefixAcked = 'a'
	formatKey   = "_format" // must not start with a message prefix byte
	formatValue = "canopy-outbox-v1"
	seqKey      = "_seq"   // next sequence number, a high-water mark
	epochKey    = "_epoch" // the outbox's epoch, 8 bytes big-endian, never 0
)

// decodeEpoch parses the value stored under epochKey.
func decodeEpoch(b []byte) (uint64, error) {
	if len(b) != 8 {
		return 0, fmt.Errorf("epoch record of %d bytes, want 8", len(b))
	}
	e := binary.BigEndian.Uint64(b)
	if e == 0 {
		return 0, errors.New("epoch record holds 0")
	}
	return e, nil
}

func msgKey(seq uint64) []byte {
	k := make([]byte, 9)
	k[0] = prefixMsg
	binary.BigEndian.PutUint64(k[1:], seq)
	return k
}

func destPrefix(dest string) []byte {
	k := make([]byte, 0, len(dest)+2)
	k = append(k, prefixDest)
	k = append(k, dest...)
	return append(k, 0)
}

func destKey(dest string, seq uint64) []byte {
	return binary.BigEndian.AppendUint64(destPrefix(dest), seq)
}

func ackedKey(id string) []byte { return append([]byte{prefixAcked}, id...) }

// encode lays a message out as: id len (1 byte), id, dest len (uvarint),
// dest, created unix nanos (8 bytes), payload.
func encode(m *Message) []byte {
	b := make([]byte, 0, 1+len(m.ID)+binary.MaxVarintLen32+len(m.Dest)+8+len(m.Payload))
	b = append(b, byte(len(m.ID)))
	b = append(b, m.ID...)
	b = binary.AppendUvarint(b, uint64(len(m.Dest)))
	b = append(b, m.Dest...)
	b = binary.BigEndian.AppendUint64(b, uint64(m.Created.UnixNano()))
	return append(b, m.Payload...)
}

var errCorrupt = errors.New("corrupt outbox record")

// decode parses a record written by encode; the result does not alias b.
func decode(seq uint64, b []byte) (Message, error) {
	if len(b) < 1 {
		return Message{}, errCorrupt
	}
	n := int(b[0])
	b = b[1:]
	if len(b) < n {
		return Message{}, errCorrupt
	}
	id := string(b[:n])
	b = b[n:]
	dl, k := binary.Uvarint(b)
	if k <= 0 || dl > uint64(len(b)-k) {
		return Message{}, errCorrupt
	}
	b = b[k:]
	dest := string(b[:dl])
	b = b[dl:]
	if len(b) < 8 {
		return Message{}, errCorrupt
	}
	created := time.Unix(0, int64(binary.BigEndian.Uint64(b)))
	return Message{ID: id, Dest: dest, Payload: append([]byte(nil), b[8:]...), Created: created, Seq: seq}, nil
}

// decodeMeta parses only what the index needs — id, destination and the
// size counted against MaxBytes — without copying the payload.
func decodeMeta(b []byte) (id, dest string, size int64, err error) {
	if len(b) < 1 {
		return "", "", 0, errCorrupt
	}
	n := int(b[0])
	if len(b)-1 < n {
		return "", "", 0, errCorrupt
	}
	id = string(b[1 : 1+n])
	rest := b[1+n:]
	dl, k := binary.Uvarint(rest)
	if k <= 0 || dl > uint64(len(rest)-k) {
		return "", "", 0, errCorrupt
	}
	dest = string(rest[k : k+int(dl)])
	rest = rest[k+int(dl):]
	if len(rest) < 8 {
		return "", "", 0, errCorrupt
	}
	return id, dest, int64(len(id) + len(dest) + len(rest) - 8), nil
}
