package ledger

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"strings"
	"testing"
)

// encodeV1 is a record of version 1 (no epoch), which no fleet ever wrote
// to disk but which decode must refuse by its version.
func encodeV1(source string, next uint64) []byte {
	b := append([]byte(magic), 1)
	b = binary.BigEndian.AppendUint64(b, next)
	b = append(b, byte(len(source)))
	b = append(b, source...)
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

func TestCodecRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name        string
		source      string
		epoch, next uint64
	}{
		{"zero", "a", 0, 0},
		{"small", "leaf-01", 0xE1, 42},
		{"max", strings.Repeat("x", 63), ^uint64(0), ^uint64(0)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src, epoch, next, err := decode(encode(nodeName(tc.source), tc.epoch, tc.next))
			if err != nil || string(src) != tc.source || epoch != tc.epoch || next != tc.next {
				t.Fatalf("decode(encode) = %q, %x, %d, %v", src, epoch, next, err)
			}
		})
	}
}

func TestDecodeRejects(t *testing.T) {
	good := encode("leaf-1", 0xE1, 7)
	flip := func(i int) []byte { b := bytes.Clone(good); b[i] ^= 1; return b }
	withVersion := func(v byte) []byte { b := bytes.Clone(good); b[4] = v; return b }
	for _, tc := range []struct {
		name string
		in   []byte
		want string
	}{
		{"empty", nil, "truncated record"},
		{"short", good[:10], "truncated record"},
		{"magic", flip(0), "bad magic"},
		{"version", flip(4), "record version 3, want 2"},
		{"version 1", encodeV1("leaf-1", 7), "record version 1, want 2"},
		{"version 0", withVersion(0), "record version 0, want 2"},
		{"version 255", withVersion(255), "record version 255, want 2"},
		{"epoch bit", flip(6), "checksum mismatch"},
		{"next bit", flip(14), "checksum mismatch"},
		{"name length", flip(21), "name length says"},
		{"name byte", flip(23), "checksum mismatch"},
		{"crc", flip(len(good) - 1), "checksum mismatch"},
		{"trailing", append(bytes.Clone(good), 0), "name length says"},
		{"bad name", encode("Not_Valid", 1, 1), "not a valid node name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, _, err := decode(tc.in)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("decode = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(encode("leaf-1", 0xE1, 7))
	f.Add(encode("a", 0, 0))
	f.Add(encodeV1("leaf-1", 7))
	f.Add([]byte("CNOL\x02"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		src, epoch, next, err := decode(b)
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error on several lines: %q", err)
			}
			return
		}
		// A record that decodes is exactly the one encode writes.
		if !bytes.Equal(encode(src, epoch, next), b) {
			t.Fatalf("decode(%x) = %q, %x, %d, but encode gives %x", b, src, epoch, next, encode(src, epoch, next))
		}
	})
}
