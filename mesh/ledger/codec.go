package ledger

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"

	"github.com/canopy-fleet/canopy/kernel"
)

// A record is, in order:
//
//	magic    4 bytes  "CNOL"
//	version  1 byte   2
//	epoch    8 bytes  big-endian: the epoch of the source's outbox (kernel.Outbox.Epoch)
//	next     8 bytes  big-endian: the lowest ID of that epoch not yet delivered
//	nameLen  1 byte
//	name     nameLen bytes: the source, as in the file's name
//	crc      4 bytes  big-endian CRC-32C of every byte before it
//
// Version 1 (no epoch) was never deployed: no fleet has a ledger of it, so
// there is no migration, and decode refuses it like any other version.
const (
	magic      = "CNOL"
	version    = 2
	headerSize = len(magic) + 1 + 8 + 8 + 1
	crcSize    = 4
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// errVersion marks a record of another version than this code writes.
var errVersion = errors.New("record version")

// encode returns the record for source at (epoch, next).
func encode(source kernel.NodeName, epoch, next uint64) []byte {
	b := make([]byte, 0, headerSize+len(source)+crcSize)
	b = append(b, magic...)
	b = append(b, version)
	b = binary.BigEndian.AppendUint64(b, epoch)
	b = binary.BigEndian.AppendUint64(b, next)
	b = append(b, byte(len(source)))
	b = append(b, source...)
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

// decode parses a record. Every error is one line saying what is wrong.
func decode(b []byte) (source kernel.NodeName, epoch, next uint64, err error) {
	if len(b) >= len(magic) && string(b[:len(magic)]) != magic {
		return "", 0, 0, errors.New("not a ledger record (bad magic)")
	}
	if len(b) > len(magic) && b[len(magic)] != version {
		return "", 0, 0, fmt.Errorf("%w %d, want %d", errVersion, b[len(magic)], version)
	}
	if len(b) < headerSize+crcSize {
		return "", 0, 0, fmt.Errorf("truncated record: %d bytes, want at least %d", len(b), headerSize+crcSize)
	}
	nameLen := int(b[headerSize-1])
	if want := headerSize + nameLen + crcSize; len(b) != want {
		return "", 0, 0, fmt.Errorf("record is %d bytes, its name length says %d", len(b), want)
	}
	body, sum := b[:len(b)-crcSize], binary.BigEndian.Uint32(b[len(b)-crcSize:])
	if crc32.Checksum(body, castagnoli) != sum {
		return "", 0, 0, errors.New("checksum mismatch")
	}
	name := string(b[headerSize : headerSize+nameLen])
	if !kernel.ValidName(name) {
		return "", 0, 0, fmt.Errorf("record names source %q, not a valid node name", name)
	}
	at := len(magic) + 1
	return kernel.NodeName(name), binary.BigEndian.Uint64(b[at:]), binary.BigEndian.Uint64(b[at+8:]), nil
}
