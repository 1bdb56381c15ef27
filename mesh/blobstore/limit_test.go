package blobstore

import (
	"bytes"
	"os"
	"testing"
	"time"
)

// A bounded store drops the least recently used blobs (an Open counts as
// a use) when a new one takes it past its limit, keeps the new one, and
// counts what it dropped.
func TestLimitEvictsLeastRecentlyUsed(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	put := func(c byte) string {
		t.Helper()
		d, err := s.Put(bytes.NewReader(bytes.Repeat([]byte{c}, 1000)))
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	age := func(d string, ago time.Duration) {
		t.Helper()
		p, _ := s.Path(d)
		at := time.Now().Add(-ago)
		if err := os.Chtimes(p, at, at); err != nil {
			t.Fatal(err)
		}
	}
	a, b := put('a'), put('b')
	age(a, 2*time.Hour) // a is older than b ...
	age(b, time.Hour)
	f, _, err := s.Open(a) // ... until it is used (now)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s.SetLimit(2500)
	c := put('c')
	if !s.Has(a) || s.Has(b) || !s.Has(c) {
		t.Fatalf("held a %v, b %v, c %v; want the least recently used (b) dropped", s.Has(a), s.Has(b), s.Has(c))
	}
	if n, size := s.Cached(); n != 2 || size != 2000 || s.Evicted() != 1 {
		t.Fatalf("cached %d blobs, %d bytes, evicted %d", n, size, s.Evicted())
	}
	// Blobs used in the last minute are spared, even past the limit: a
	// gateway opens a module right after fetching it for a child.
	s.SetLimit(1000)
	d := put('d')
	if !s.Has(a) || !s.Has(c) || !s.Has(d) {
		t.Fatal("a blob used a moment ago was dropped")
	}
	// Once they are older, the next arrival pushes them out; the open blob
	// that gets dropped stays readable to its reader.
	age(a, 2*time.Minute)
	age(c, 2*time.Minute)
	age(d, 2*time.Minute)
	d = put('e')
	if !s.Has(d) || s.Has(a) || s.Has(c) { // d is now e's
		t.Fatalf("a new blob did not push out the others: a %v, c %v", s.Has(a), s.Has(c))
	}
	buf := make([]byte, 1000)
	if n, err := f.ReadAt(buf, 0); n != 1000 || err != nil || buf[0] != 'a' {
		t.Fatalf("reading a dropped blob that was open: %d %v", n, err)
	}
	// A blob bigger than the whole bound is kept when it arrives.
	age(d, 2*time.Minute)
	big, err := s.Put(bytes.NewReader(bytes.Repeat([]byte{'z'}, 5000)))
	if err != nil || !s.Has(big) {
		t.Fatalf("big blob: %v", err)
	}
	// Counts hold across a reopen.
	again, err := Open(s.dir)
	if err != nil {
		t.Fatal(err)
	}
	if n, size := again.Cached(); n != 1 || size != 5000 {
		t.Fatalf("reopened: %d blobs, %d bytes", n, size)
	}
}
