package blobstore

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

func TestPutOpenResumeVerify(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("canopy"), 1000)
	d, err := s.Put(bytes.NewReader(data))
	if err != nil || d != Digest(data) || !s.Has(d) {
		t.Fatalf("put: %s %v", d, err)
	}
	f, size, err := s.Open(d)
	if err != nil || size != int64(len(data)) {
		t.Fatalf("open: %v", err)
	}
	got, _ := io.ReadAll(f)
	f.Close()
	if !bytes.Equal(got, data) {
		t.Fatal("content differs")
	}
	// A download in two pieces resumes at the partial's length.
	other := bytes.Repeat([]byte("x"), 5000)
	od := Digest(other)
	p, off, _ := s.Partial(od)
	p.Write(other[:2000])
	p.Close()
	p, off, _ = s.Partial(od)
	if off != 2000 {
		t.Fatalf("resume offset %d", off)
	}
	p.Write(other[off:])
	p.Close()
	if err := s.Commit(od); err != nil || !s.Has(od) {
		t.Fatalf("commit: %v", err)
	}
	// Corrupt bytes never become a blob.
	bad := Digest([]byte("expected"))
	p, _, _ = s.Partial(bad)
	p.Write([]byte("something else"))
	p.Close()
	if err := s.Commit(bad); !errors.Is(err, ErrDigestMismatch) || s.Has(bad) {
		t.Fatalf("corrupt commit: %v", err)
	}
	p, _, _ = s.Partial(bad)
	p.Write([]byte("something else"))
	p.Close()
	if err := s.CommitHashed(bad, []byte("not the sum")); !errors.Is(err, ErrDigestMismatch) || s.Has(bad) {
		t.Fatalf("corrupt hashed commit: %v", err)
	}
	if _, _, err := s.Open(Digest([]byte("absent"))); !errors.Is(err, ErrNotFound) {
		t.Fatalf("absent: %v", err)
	}
	for _, d := range []string{"", "sha256:", "md5:abcd", "sha256:" + string(bytes.Repeat([]byte("A"), 64)), "sha256:../../etc/passwd"} {
		if _, err := ParseDigest(d); err == nil {
			t.Errorf("digest %q accepted", d)
		}
	}
}

// TestCached: the store counts complete blobs and their bytes once each,
// never partials or refused bytes, and counts again from disk when opened.
func TestCached(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := func(s *Store, blobs, size int64) {
		t.Helper()
		if b, n := s.Cached(); b != blobs || n != size {
			t.Fatalf("cached %d blobs, %d bytes; want %d, %d", b, n, blobs, size)
		}
	}
	want(s, 0, 0)
	a := bytes.Repeat([]byte("a"), 300)
	if _, err := s.Put(bytes.NewReader(a)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(bytes.NewReader(a)); err != nil { // the same bytes again
		t.Fatal(err)
	}
	want(s, 1, 300)
	b := bytes.Repeat([]byte("b"), 700)
	p, _, _ := s.Partial(Digest(b))
	p.Write(b[:100])
	p.Close()
	want(s, 1, 300) // a partial is not cached yet
	p, _, _ = s.Partial(Digest(b))
	p.Write(b[100:])
	p.Close()
	if err := s.Commit(Digest(b)); err != nil {
		t.Fatal(err)
	}
	want(s, 2, 1000)
	bad := Digest([]byte("expected"))
	p, _, _ = s.Partial(bad)
	p.Write([]byte("something else"))
	p.Close()
	if err := s.CommitHashed(bad, []byte("not the sum")); !errors.Is(err, ErrDigestMismatch) {
		t.Fatalf("corrupt hashed commit: %v", err)
	}
	want(s, 2, 1000)
	// Another partial left behind is not counted when the store is opened again.
	p, _, _ = s.Partial(Digest([]byte("later")))
	p.Write([]byte("lat"))
	p.Close()
	again, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	want(again, 2, 1000)
}
