// Package blobstore keeps content-addressed blobs (module binaries) in a
// directory: complete blobs named by their SHA-256, and partial downloads
// that a later fetch resumes where the last one stopped. A blob becomes
// visible only after its bytes hash to its name. The store counts the
// complete blobs it holds and their bytes (Cached), and may be bounded in
// size (SetLimit): a gateway's cache for its subtree then drops the least
// recently used blobs, which a later fetch brings back.
package blobstore

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// ErrNotFound is returned for a blob the store does not hold.
var ErrNotFound = errors.New("blob not found")

// ErrDigestMismatch is returned when bytes do not hash to the expected digest.
var ErrDigestMismatch = errors.New("blob digest mismatch")

// Store is a directory of blobs. Safe for concurrent use by one process as
// long as one digest is written by one writer at a time (the mesh fetches
// each digest once at a time).
type Store struct {
	dir string

	mu           sync.Mutex // makes a blob's arrival and its count one step
	blobs, bytes int64      // complete blobs held, guarded by mu
	limit        int64      // bound on bytes, 0 for none; guarded by mu
	evicted      int64      // blobs removed to keep within limit; guarded by mu
}

// SetLimit bounds the total size of the complete blobs to max bytes (0
// removes the bound): whenever a new blob takes the store past it, the
// least recently used other blobs (Open marks a blob used) are removed
// until it fits, sparing those used in the last minute; the blob just
// added stays even if it alone is larger. Removing a
// blob someone has open is safe: the open file stays readable.
func (s *Store) SetLimit(max int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.limit = max
	s.evictLocked("")
}

// Evicted is how many blobs the store removed to keep within its limit.
func (s *Store) Evicted() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.evicted
}

// evictFresh is how long a blob is kept after its last use even past the
// limit: a gateway that fetches a module for a child opens it right after,
// and two modules larger together than the limit must not push each other
// out in between (the store stays over its limit for that long instead).
const evictFresh = time.Minute

// evictLocked removes least recently used blobs, never keep (a path) nor
// one used in the last evictFresh, until the store is within its limit.
func (s *Store) evictLocked(keep string) {
	if s.limit <= 0 || s.bytes <= s.limit {
		return
	}
	fresh := time.Now().Add(-evictFresh).UnixNano()
	type blob struct {
		path string
		size int64
		used int64 // modification time, unix nanoseconds: Open touches it
	}
	var all []blob
	ents, _ := os.ReadDir(s.dir)
	for _, e := range ents {
		p := filepath.Join(s.dir, e.Name())
		if !e.Type().IsRegular() || p == keep {
			continue
		}
		if _, err := ParseDigest("sha256:" + e.Name()); err != nil {
			continue
		}
		if info, err := e.Info(); err == nil && info.ModTime().UnixNano() < fresh {
			all = append(all, blob{p, info.Size(), info.ModTime().UnixNano()})
		}
	}
	slices.SortFunc(all, func(a, b blob) int { return cmp.Compare(a.used, b.used) })
	for _, b := range all {
		if s.bytes <= s.limit {
			return
		}
		if os.Remove(b.path) == nil {
			s.blobs--
			s.bytes -= b.size
			s.evicted++
		}
	}
}

// Open makes (if needed) and returns the store in dir, counting the
// complete blobs already there.
func Open(dir string) (*Store, error) {
	if err := os.MkdirAll(filepath.Join(dir, "partial"), 0o700); err != nil {
		return nil, fmt.Errorf("blobstore: %w", err)
	}
	s := &Store{dir: dir}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("blobstore: %w", err)
	}
	for _, e := range ents {
		if !e.Type().IsRegular() {
			continue
		}
		if _, err := ParseDigest("sha256:" + e.Name()); err != nil {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue // removed since the listing
		}
		s.blobs++
		s.bytes += info.Size()
	}
	return s, nil
}

// Cached is how many complete blobs the store holds and their total size
// in bytes: those in its directory at Open plus those added since through
// this Store.
func (s *Store) Cached() (blobs, bytes int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.blobs, s.bytes
}

// install renames a verified file to the blob path p and counts the blob
// unless it was there already (the same bytes, put or fetched again).
func (s *Store) install(from, p string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, err := os.Stat(p)
	had := err == nil
	if err := os.Rename(from, p); err != nil {
		return err
	}
	if !had {
		if st, err := os.Stat(p); err == nil {
			s.blobs++
			s.bytes += st.Size()
		}
	}
	s.evictLocked(p)
	return nil
}

// ParseDigest checks "sha256:HEX" and returns the hex part.
func ParseDigest(d string) (string, error) {
	h, ok := strings.CutPrefix(d, "sha256:")
	if b, err := hex.DecodeString(h); !ok || err != nil || len(b) != sha256.Size || strings.ToLower(h) != h {
		return "", fmt.Errorf("digest %q: want sha256: and 64 lowercase hex digits", d)
	}
	return h, nil
}

// Digest returns the digest string of b.
func Digest(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

// Path is where a complete blob lives.
func (s *Store) Path(digest string) (string, error) {
	h, err := ParseDigest(digest)
	if err != nil {
		return "", err
	}
	return filepath.Join(s.dir, h), nil
}

// Has reports whether the complete blob is present.
func (s *Store) Has(digest string) bool {
	p, err := s.Path(digest)
	if err != nil {
		return false
	}
	_, err = os.Stat(p)
	return err == nil
}

// Open returns a complete blob and its size.
func (s *Store) Open(digest string) (*os.File, int64, error) {
	p, err := s.Path(digest)
	if err != nil {
		return nil, 0, err
	}
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, 0, fmt.Errorf("%s: %w", digest, ErrNotFound)
	}
	if err != nil {
		return nil, 0, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	now := time.Now()
	os.Chtimes(p, now, now) // marks it used, for SetLimit's eviction; best effort
	return f, st.Size(), nil
}

// Put stores the bytes of r and returns their digest.
func (s *Store) Put(r io.Reader) (string, error) {
	f, err := os.CreateTemp(filepath.Join(s.dir, "partial"), "put-*")
	if err != nil {
		return "", fmt.Errorf("blobstore: %w", err)
	}
	defer os.Remove(f.Name())
	h := sha256.New()
	if _, err := io.Copy(io.MultiWriter(f, h), r); err != nil {
		f.Close()
		return "", fmt.Errorf("blobstore: put: %w", err)
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	d := "sha256:" + hex.EncodeToString(h.Sum(nil))
	p, _ := s.Path(d)
	if err := s.install(f.Name(), p); err != nil {
		return "", fmt.Errorf("blobstore: put: %w", err)
	}
	return d, nil
}

// Partial opens the partial download of digest for appending and returns
// how many bytes it already holds, so a fetch resumes there.
func (s *Store) Partial(digest string) (*os.File, int64, error) {
	h, err := ParseDigest(digest)
	if err != nil {
		return nil, 0, err
	}
	f, err := os.OpenFile(filepath.Join(s.dir, "partial", h), os.O_CREATE|os.O_RDWR|os.O_APPEND, 0o600)
	if err != nil {
		return nil, 0, fmt.Errorf("blobstore: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	return f, st.Size(), nil
}

// CommitHashed makes a finished partial download a blob when sum, the
// SHA-256 the caller computed while writing it, matches the digest; on a
// mismatch the partial is deleted and ErrDigestMismatch returned. It saves
// reading the file again, as Commit does.
func (s *Store) CommitHashed(digest string, sum []byte) error {
	h, err := ParseDigest(digest)
	if err != nil {
		return err
	}
	pp := filepath.Join(s.dir, "partial", h)
	if hex.EncodeToString(sum) != h {
		os.Remove(pp)
		return fmt.Errorf("%s: %w", digest, ErrDigestMismatch)
	}
	return s.install(pp, filepath.Join(s.dir, h))
}

// Commit verifies a finished partial download and makes it a blob; on a
// mismatch the partial is deleted and ErrDigestMismatch returned.
func (s *Store) Commit(digest string) error {
	h, err := ParseDigest(digest)
	if err != nil {
		return err
	}
	pp := filepath.Join(s.dir, "partial", h)
	f, err := os.Open(pp)
	if err != nil {
		return fmt.Errorf("blobstore: commit: %w", err)
	}
	sum := sha256.New()
	_, err = io.Copy(sum, f)
	f.Close()
	if err != nil {
		return fmt.Errorf("blobstore: commit: %w", err)
	}
	if hex.EncodeToString(sum.Sum(nil)) != h {
		os.Remove(pp)
		return fmt.Errorf("%s: %w", digest, ErrDigestMismatch)
	}
	return s.install(pp, filepath.Join(s.dir, h))
}
