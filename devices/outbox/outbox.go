package outbox

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// Errors callers may check.
var (
	ErrClosed   = errors.New("outbox closed")
	ErrTooLarge = errors.New("message larger than the outbox bound")
	ErrDiskFull = errors.New("outbox disk full")
	ErrDamaged  = errors.New("outbox directory cannot be opened; left untouched")
)

// Outbox is a durable, bounded, per-destination ordered queue. Its methods
// are safe for concurrent use.
type Outbox struct {
	cfg   Config
	log   *slog.Logger
	db    *badger.DB
	epoch uint64 // set by Open, then constant

	ops    chan *op
	stop   chan struct{}
	exited chan struct{} // closed when the committer returns
	wg     sync.WaitGroup
	once   sync.Once

	// Owned by the committer goroutine after Open.
	nextSeq uint64
	pending map[string]*entry // id → entry
	bySeq   map[uint64]*entry // seq → entry
	// savedSeq is the high-water mark last written.
	savedSeq uint64
	queue    []*entry // pending in seq order from head; acked ones linger until popped
	head     int
	// Counted while staging, added to appended and acked once committed.
	stagedAppends, stagedAcks int64
	dests                     map[string]Pending // dest → pending messages and bytes

	// Read by anyone.
	mu        sync.RWMutex // guards destsView
	destsView map[string]Pending
	n         atomic.Int64
	bytes     atomic.Int64
	appended  atomic.Int64
	acked     atomic.Int64
	dropped   atomic.Int64
	dupes     atomic.Int64
	diskFull  atomic.Int64
	commits   atomic.Int64
	recovered time.Duration
}

// Stats are the outbox's counters.
type Stats struct {
	Len        int64         // pending messages
	Bytes      int64         // pending bytes, as counted against MaxBytes
	MaxBytes   int64         // the bound on Bytes (Config.MaxBytes)
	Appended   int64         // messages stored since Open (duplicates not counted)
	Acked      int64         // messages removed by an acknowledgement since Open
	Dropped    int64         // messages dropped by the bound or a full disk
	Duplicates int64         // appends ignored because the id was known
	DiskFull   int64         // appends refused with ErrDiskFull
	Commits    int64         // group commits (each one fsync)
	Recovery   time.Duration // time Open spent rebuilding the index
}

// Open opens (or creates) the outbox in cfg.Dir and rebuilds its in-memory
// index. A directory badger cannot open is reported with ErrDamaged and not
// modified.
func Open(cfg Config) (*Outbox, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("outbox config: %w", err)
	}
	cfg = cfg.withDefaults()
	log := cfg.Logger.With("component", "outbox", "dir", cfg.Dir)
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("outbox dir: %w", err)
	}
	opts := badger.DefaultOptions(cfg.Dir).
		WithSyncWrites(true).
		WithLogger(badgerLogger{log}).
		WithNumVersionsToKeep(1).
		WithMemTableSize(16 << 20).
		WithValueLogFileSize(64 << 20).
		WithNumCompactors(2).
		WithCompactL0OnClose(false).
		WithDetectConflicts(false)
	db, err := badger.Open(opts)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v (move it aside to start an empty outbox)", ErrDamaged, cfg.Dir, oneLine(err))
	}
	o := &Outbox{
		cfg:     cfg,
		log:     log,
		db:      db,
		ops:     make(chan *op, 1024),
		stop:    make(chan struct{}),
		exited:  make(chan struct{}),
		pending: map[string]*entry{},
		bySeq:   map[uint64]*entry{},
		dests:   map[string]Pending{},
	}
	start := time.Now()
	if err := o.checkFormat(); err != nil {
		db.Close()
		return nil, err
	}
	if err := o.recover(); err != nil {
		db.Close()
		return nil, err
	}
	o.recovered = time.Since(start)
	o.publishDests()
	log.Info("outbox open", "epoch", fmt.Sprintf("%016x", o.epoch), "pending", o.n.Load(), "bytes", o.bytes.Load(), "recovery", o.recovered)
	o.wg.Add(2)
	go o.commitLoop()
	go o.gcLoop()
	return o, nil
}

// checkFormat stamps a new outbox, refuses a badger directory that is not
// one, and reads the outbox's epoch, creating it on the outbox's first
// Open (or on the first Open of an outbox made before epochs existed).
func (o *Outbox) checkFormat() error {
	return o.db.Update(func(txn *badger.Txn) error {
		it, err := txn.Get([]byte(formatKey))
		switch {
		case errors.Is(err, badger.ErrKeyNotFound):
			if !o.empty(txn) {
				return fmt.Errorf("%w: %s holds a badger database that is not an outbox", ErrDamaged, o.cfg.Dir)
			}
			if err := txn.Set([]byte(formatKey), []byte(formatValue)); err != nil {
				return err
			}
		case err != nil:
			return fmt.Errorf("%w: %s: read format: %v", ErrDamaged, o.cfg.Dir, err)
		default:
			v, err := it.ValueCopy(nil)
			if err != nil || string(v) != formatValue {
				return fmt.Errorf("%w: %s: format %q, want %q", ErrDamaged, o.cfg.Dir, v, formatValue)
			}
		}
		return o.loadEpoch(txn)
	})
}

// loadEpoch reads the epoch, or creates and stores a new one.
func (o *Outbox) loadEpoch(txn *badger.Txn) error {
	it, err := txn.Get([]byte(epochKey))
	if errors.Is(err, badger.ErrKeyNotFound) {
		if o.epoch, err = newEpoch(); err != nil {
			return fmt.Errorf("outbox %s: new epoch: %w", o.cfg.Dir, err)
		}
		return txn.Set([]byte(epochKey), binary.BigEndian.AppendUint64(nil, o.epoch))
	}
	if err != nil {
		return fmt.Errorf("%w: %s: read epoch: %v", ErrDamaged, o.cfg.Dir, err)
	}
	v, err := it.ValueCopy(nil)
	if err == nil {
		o.epoch, err = decodeEpoch(v)
	}
	if err != nil {
		return fmt.Errorf("%w: %s: %v", ErrDamaged, o.cfg.Dir, err)
	}
	return nil
}

// newEpoch returns a random epoch, never 0.
func newEpoch() (uint64, error) {
	var b [8]byte
	for {
		if _, err := rand.Read(b[:]); err != nil {
			return 0, err
		}
		if e := binary.BigEndian.Uint64(b[:]); e != 0 {
			return e, nil
		}
	}
}

// Epoch is the outbox's epoch: a random value, never 0, created with the
// outbox's directory and kept in it, so it is the same across Close and
// Open and new when the directory is wiped. Sequence numbers are unique
// within one epoch only; see kernel.Outbox.
func (o *Outbox) Epoch() uint64 { return o.epoch }

func (o *Outbox) empty(txn *badger.Txn) bool {
	it := txn.NewIterator(badger.IteratorOptions{})
	defer it.Close()
	it.Rewind()
	return !it.Valid()
}

// recover rebuilds the index from the stored messages.
func (o *Outbox) recover() error {
	return o.db.View(func(txn *badger.Txn) error {
		if item, err := txn.Get([]byte(seqKey)); err == nil {
			if err := item.Value(func(v []byte) error {
				if len(v) != 8 {
					return fmt.Errorf("%w: %s: sequence record of %d bytes", ErrDamaged, o.cfg.Dir, len(v))
				}
				o.nextSeq = max(o.nextSeq, binary.BigEndian.Uint64(v))
				return nil
			}); err != nil {
				return err
			}
		} else if !errors.Is(err, badger.ErrKeyNotFound) {
			return err
		}
		it := txn.NewIterator(badger.IteratorOptions{PrefetchValues: true, PrefetchSize: 256, Prefix: []byte{prefixMsg}})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			item := it.Item()
			seq := seqOf(item.Key())
			var e entry
			err := item.Value(func(v []byte) error {
				var err error
				e.id, e.dest, e.size, err = decodeMeta(v)
				return err
			})
			if err != nil {
				return fmt.Errorf("%w: %s: message %d: %v", ErrDamaged, o.cfg.Dir, seq, err)
			}
			e.seq = seq
			o.index(&e)
			o.nextSeq = max(o.nextSeq, seq+1)
		}
		o.savedSeq = o.nextSeq
		return nil
	})
}

func seqOf(key []byte) uint64 {
	var s uint64
	for _, b := range key[len(key)-8:] {
		s = s<<8 | uint64(b)
	}
	return s
}

// Next returns up to n of the oldest pending messages for dest, in append
// order. They stay pending until acknowledged.
func (o *Outbox) Next(dest string, n int) ([]Message, error) {
	if o.closed() {
		return nil, ErrClosed
	}
	var out []Message
	err := o.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: destPrefix(dest)})
		defer it.Close()
		for it.Rewind(); it.Valid() && len(out) < n; it.Next() {
			seq := seqOf(it.Item().Key())
			item, err := txn.Get(msgKey(seq))
			if errors.Is(err, badger.ErrKeyNotFound) {
				continue // dropped between the two reads
			}
			if err != nil {
				return err
			}
			err = item.Value(func(v []byte) error {
				m, err := decode(seq, v)
				out = append(out, m)
				return err
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("outbox next %q: %w", dest, err)
	}
	return out, nil
}

// Destinations lists the destinations with pending messages and how many
// each has.
func (o *Outbox) Destinations() map[string]int {
	o.mu.RLock()
	defer o.mu.RUnlock()
	out := make(map[string]int, len(o.destsView))
	for d, p := range o.destsView {
		out[d] = int(p.Messages)
	}
	return out
}

// Pending is what waits for one destination.
type Pending struct {
	Messages int64
	Bytes    int64 // as counted against MaxBytes
}

// PendingByDestination lists the destinations with pending messages, with
// their messages and bytes, as of the last commit.
func (o *Outbox) PendingByDestination() map[string]Pending {
	o.mu.RLock()
	defer o.mu.RUnlock()
	out := make(map[string]Pending, len(o.destsView))
	for d, p := range o.destsView {
		out[d] = p
	}
	return out
}

func (o *Outbox) publishDests() {
	view := make(map[string]Pending, len(o.dests))
	for d, p := range o.dests {
		if p.Messages > 0 {
			view[d] = p
		}
	}
	o.mu.Lock()
	o.destsView = view
	o.mu.Unlock()
}

// Len is the number of pending messages.
func (o *Outbox) Len() int64 { return o.n.Load() }

// Bytes is the pending size counted against MaxBytes.
func (o *Outbox) Bytes() int64 { return o.bytes.Load() }

// Stats returns the counters.
func (o *Outbox) Stats() Stats {
	return Stats{
		Len: o.n.Load(), Bytes: o.bytes.Load(), MaxBytes: o.cfg.MaxBytes,
		Appended: o.appended.Load(), Acked: o.acked.Load(), Dropped: o.dropped.Load(),
		Duplicates: o.dupes.Load(), DiskFull: o.diskFull.Load(), Commits: o.commits.Load(),
		Recovery: o.recovered,
	}
}

// Close stops the committer (failing appends still queued with ErrClosed)
// and closes badger.
func (o *Outbox) Close() error {
	var err error
	o.once.Do(func() {
		close(o.stop)
		o.wg.Wait()
		err = o.db.Close()
	})
	return err
}

func (o *Outbox) closed() bool {
	select {
	case <-o.stop:
		return true
	default:
		return false
	}
}

// Append stores msgs durably (see the package doc) and returns once they
// are fsync'd. Messages with a known id are skipped. If ctx ends first the
// messages may or may not be stored.
func (o *Outbox) Append(ctx context.Context, msgs ...Message) error {
	for i := range msgs {
		if err := msgs[i].validate(); err != nil {
			return fmt.Errorf("outbox append: %w", err)
		}
		if msgs[i].size() > o.cfg.MaxBytes {
			return fmt.Errorf("outbox append %q: %d bytes: %w (%d)", msgs[i].ID, msgs[i].size(), ErrTooLarge, o.cfg.MaxBytes)
		}
	}
	return o.submit(ctx, &op{appends: msgs})
}

// Ack removes delivered messages by id and remembers the ids for
// DedupeWindow. Unknown ids are ignored.
func (o *Outbox) Ack(ctx context.Context, ids ...string) error {
	return o.submit(ctx, &op{acks: ids})
}

func (o *Outbox) submit(ctx context.Context, p *op) error {
	p.done = make(chan error, 1)
	if o.closed() {
		return ErrClosed
	}
	select {
	case o.ops <- p:
	case <-o.stop:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-p.done:
		return err
	case <-o.exited:
		// The committer stopped; it answered p if it took it.
		select {
		case err := <-p.done:
			return err
		default:
			return ErrClosed
		}
	case <-ctx.Done():
		return ctx.Err()
	}
}

func oneLine(err error) string {
	return string(bytes.ReplaceAll([]byte(err.Error()), []byte("\n"), []byte("; ")))
}

// gcLoop reclaims value-log space every GCInterval until Close.
func (o *Outbox) gcLoop() {
	defer o.wg.Done()
	t := time.NewTicker(o.cfg.GCInterval)
	defer t.Stop()
	for {
		select {
		case <-o.stop:
			return
		case <-t.C:
			for o.db.RunValueLogGC(0.5) == nil {
				if o.closed() {
					return
				}
			}
		}
	}
}
