package ledger

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/canopy-fleet/canopy/kernel"
)

const (
	suffix    = ".ledger"
	tmpPrefix = ".tmp-"
	lockName  = "LOCK"
)

// ErrClosed is returned by Load and Advance after Close.
var ErrClosed = errors.New("outbox ledger closed")

// Ledger is a mesh.OutboxLedger in a directory. Create it with Open and
// release it with Close. Safe for concurrent use; Advance calls for
// different sources write in parallel.
type Ledger struct {
	dir  string
	lock *os.File
	dirf *os.File // the directory itself, synced after each rename

	ops    sync.RWMutex // Load and Advance hold it shared; Close exclusive
	closed bool         // guarded by ops
	mu     sync.Mutex   // guards src
	src    map[kernel.NodeName]*record
}

// record is one source's value on disk; its lock orders writes to its file.
type record struct {
	mu    sync.Mutex
	epoch uint64
	next  uint64
}

// Open opens the ledger in dir, creating dir if it does not exist, and
// reads every record in it. It fails, with one line naming the file, if
// another process holds dir or if any file in dir is not a whole record.
func Open(dir string) (*Ledger, error) {
	fail := func(err error) error { return fmt.Errorf("outbox ledger %s: %w", dir, err) }
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fail(err)
	}
	lock, err := os.OpenFile(filepath.Join(dir, lockName), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fail(err)
	}
	if err := lockFile(lock); err != nil {
		lock.Close()
		return nil, fail(err)
	}
	l := &Ledger{dir: dir, lock: lock, src: map[kernel.NodeName]*record{}}
	if err := l.load(); err != nil {
		lock.Close()
		return nil, fail(err)
	}
	if l.dirf, err = os.Open(dir); err != nil {
		lock.Close()
		return nil, fail(err)
	}
	return l, nil
}

func (l *Ledger) load() error {
	entries, err := os.ReadDir(l.dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		name := e.Name()
		switch {
		case name == lockName:
		case strings.HasPrefix(name, tmpPrefix) && e.Type().IsRegular():
			// A write cut short before its rename: never part of the ledger.
			if err := os.Remove(filepath.Join(l.dir, name)); err != nil {
				return err
			}
		case strings.HasSuffix(name, suffix) && e.Type().IsRegular():
			b, err := os.ReadFile(filepath.Join(l.dir, name))
			if err != nil {
				return err
			}
			source, epoch, next, err := decode(b)
			if errors.Is(err, errVersion) {
				return fmt.Errorf("%s: %w (written by another canopy version: remove it to forget that source)", name, err)
			}
			if err != nil {
				return fmt.Errorf("%s: %w (the file is damaged: restore it, or remove it to forget that source)", name, err)
			}
			if string(source)+suffix != name {
				return fmt.Errorf("%s: holds the record of %q", name, source)
			}
			l.src[source] = &record{epoch: epoch, next: next}
		default:
			return fmt.Errorf("unexpected file %q (not an outbox ledger directory?)", name)
		}
	}
	return nil
}

// Dir is the ledger's directory.
func (l *Ledger) Dir() string { return l.dir }

func (l *Ledger) record(source kernel.NodeName) (*record, error) {
	if !kernel.ValidName(string(source)) {
		return nil, fmt.Errorf("outbox ledger: source %q is not a valid node name", source)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	r := l.src[source]
	if r == nil {
		r = &record{}
		l.src[source] = r
	}
	return r, nil
}

// Load returns the epoch of source's outbox the ledger holds and the next
// ID of that epoch expected: every lower one was delivered. Both are 0 for
// a source never advanced.
func (l *Ledger) Load(source kernel.NodeName) (epoch, next uint64, err error) {
	l.ops.RLock()
	defer l.ops.RUnlock()
	if l.closed {
		return 0, 0, ErrClosed
	}
	r, err := l.record(source)
	if err != nil {
		return 0, 0, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.epoch, r.next, nil
}

// Advance records, durably, that every ID below next of source's outbox
// epoch was delivered. Within the epoch held it is a no-op unless next is
// higher; another epoch replaces the record (the source's outbox was
// created afresh). After an error the file holds the old record or the
// new one.
func (l *Ledger) Advance(source kernel.NodeName, epoch, next uint64) error {
	l.ops.RLock()
	defer l.ops.RUnlock()
	if l.closed {
		return ErrClosed
	}
	r, err := l.record(source)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if epoch == r.epoch && next <= r.next {
		return nil
	}
	if err := l.write(source, epoch, next); err != nil {
		return fmt.Errorf("outbox ledger %s: %s: %w", l.dir, source, err)
	}
	r.epoch, r.next = epoch, next
	return nil
}

// write replaces source's file with a record of (epoch, next): a temporary
// file, synced, renamed over it, and the directory synced.
func (l *Ledger) write(source kernel.NodeName, epoch, next uint64) error {
	f, err := os.CreateTemp(l.dir, tmpPrefix+string(source)+"-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(encode(source, epoch, next))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(l.dir, string(source)+suffix))
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return l.dirf.Sync()
}

// Close waits for writes in progress and releases the directory. Load and
// Advance fail with ErrClosed after it.
func (l *Ledger) Close() error {
	l.ops.Lock()
	defer l.ops.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	return errors.Join(l.dirf.Close(), l.lock.Close())
}
