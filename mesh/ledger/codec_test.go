package ledger

import (
	"bytes"
	"strings"
	"testing"
)

func TestCodecRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name   string
		source string
		next   uint64
	}{
		{"zero", "a", 0},
		{"small", "leaf-01", 42},
		{"max", strings.Repeat("x", 63), ^uint64(0)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src, next, err := decode(encode(nodeName(tc.source), tc.next))
			if err != nil || string(src) != tc.source || next != tc.next {
				t.Fatalf("decode(encode) = %q, %d, %v", src, next, err)
			}
		})
	}
}

func TestDecodeRejects(t *testing.T) {
	good := encode("leaf-1", 7)
	flip := func(i int) []byte { b := bytes.Clone(good); b[i] ^= 1; return b }
	for _, tc := range []struct {
		name string
		in   []byte
		want string
	}{
		{"empty", nil, "truncated record"},
		{"short", good[:10], "truncated record"},
		{"magic", flip(0), "bad magic"},
		{"version", flip(4), "record version"},
		{"next bit", flip(6), "checksum mismatch"},
		{"name length", flip(13), "name length says"},
		{"name byte", flip(15), "checksum mismatch"},
		{"crc", flip(len(good) - 1), "checksum mismatch"},
		{"trailing", append(bytes.Clone(good), 0), "name length says"},
		{"bad name", encode("Not_Valid", 1), "not a valid node name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := decode(tc.in)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("decode = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(encode("leaf-1", 7))
	f.Add(encode("a", 0))
	f.Add([]byte("CNOL\x01"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		src, next, err := decode(b)
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error on several lines: %q", err)
			}
			return
		}
		// A record that decodes is exactly the one encode writes.
		if !bytes.Equal(encode(src, next), b) {
			t.Fatalf("decode(%x) = %q, %d, but encode gives %x", b, src, next, encode(src, next))
		}
	})
}
