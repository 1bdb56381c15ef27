package outbox

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"
	"time"
)

func FuzzDecode(f *testing.F) {
	f.Add(encode(&Message{ID: "a", Dest: "cloud", Payload: []byte("x"), Created: time.Unix(1, 2)}))
	f.Add([]byte{})
	f.Add([]byte{5, 'a'})
	f.Add([]byte{1, 'a', 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decode(7, b)
		id, dest, size, merr := decodeMeta(b)
		if (err == nil) != (merr == nil) {
			t.Fatalf("decode %v, decodeMeta %v", err, merr)
		}
		if err != nil {
			return
		}
		if id != m.ID || dest != m.Dest || size != m.size() {
			t.Fatalf("meta %q %q %d vs %+v", id, dest, size, m)
		}
		// Varints may be non-canonical in the input; the fields must
		// survive a round trip.
		m2, err := decode(7, encode(&m))
		if err != nil || m2.ID != m.ID || m2.Dest != m.Dest || !bytes.Equal(m2.Payload, m.Payload) || !m2.Created.Equal(m.Created) {
			t.Fatalf("round trip: %+v vs %+v (%v)", m, m2, err)
		}
	})
}

func FuzzDecodeEpoch(f *testing.F) {
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 1})
	f.Add(make([]byte, 8))
	f.Add([]byte{})
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8, 9})
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := decodeEpoch(b)
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error on several lines: %q", err)
			}
			return
		}
		if e == 0 || len(b) != 8 || binary.BigEndian.Uint64(b) != e {
			t.Fatalf("decodeEpoch(%x) = %x", b, e)
		}
	})
}
