package frame

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

func TestRoundTripAndBadInput(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteMsg(&buf, 7, map[string]int{"a": 1}); err != nil {
		t.Fatal(err)
	}
	typ, p, err := Read(bytes.NewReader(buf.Bytes()), 0)
	if err != nil || typ != 7 {
		t.Fatalf("read: %d %v", typ, err)
	}
	var m map[string]int
	if err := Unmarshal(p, &m); err != nil || m["a"] != 1 {
		t.Fatalf("unmarshal: %v %v", m, err)
	}
	big := make([]byte, 100)
	var b2 bytes.Buffer
	_ = Write(&b2, 1, big)
	for _, c := range []struct {
		name string
		in   []byte
		max  int
		want error
	}{
		{"empty", nil, 0, io.EOF},
		{"short header", []byte{1, 0, 0}, 0, ErrTruncated},
		{"short payload", b2.Bytes()[:50], 0, ErrTruncated},
		{"oversized", b2.Bytes(), 99, ErrTooLarge},
		{"announces 4GiB", []byte{1, 0xff, 0xff, 0xff, 0xff}, 0, ErrTooLarge},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, _, err := Read(bytes.NewReader(c.in), c.max); !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
		})
	}
}

func TestStrictDecoding(t *testing.T) {
	type msg struct{ A int }
	var m msg
	extra, _ := Marshal(map[string]int{"A": 1, "B": 2})
	if err := Unmarshal(extra, &m); err == nil {
		t.Fatal("unknown field accepted")
	}
	dup := []byte{0xa2, 0x61, 'A', 0x01, 0x61, 'A', 0x02} // {"A":1,"A":2}
	if err := Unmarshal(dup, &m); err == nil {
		t.Fatal("duplicate key accepted")
	}
}

// FuzzRead feeds arbitrary bytes to the frame reader and the strict CBOR
// decoder: neither may panic, and a frame that reads must re-encode to the
// same bytes.
func FuzzRead(f *testing.F) {
	var ok bytes.Buffer
	_ = WriteMsg(&ok, 3, map[string]any{"id": "x", "n": 1})
	f.Add(ok.Bytes())
	f.Add([]byte{})
	f.Add([]byte{1, 0, 0, 0, 200, 1, 2})
	f.Add([]byte{9, 0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{2, 0, 0, 0, 1, 0xbf})
	f.Fuzz(func(t *testing.T, in []byte) {
		typ, p, err := Read(bytes.NewReader(in), 1<<16)
		if err != nil {
			return
		}
		var out bytes.Buffer
		if err := Write(&out, typ, p); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out.Bytes(), in[:HeaderSize+len(p)]) {
			t.Fatal("re-encoded frame differs")
		}
		var v any
		_ = Unmarshal(p, &v)
	})
}
