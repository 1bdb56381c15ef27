package outbox

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/dgraph-io/badger/v4"
)

// op is one Append or Ack waiting for the committer.
type op struct {
	appends []Message
	acks    []string
	ackSeqs []uint64
	done    chan error
}

// entry is the in-memory index of one pending message.
type entry struct {
	seq  uint64
	id   string
	dest string
	size int64
}

// commitLoop is the single writer: it groups waiting ops into one
// transaction and answers them after the fsync.
func (o *Outbox) commitLoop() {
	defer o.wg.Done()
	defer close(o.exited)
	for {
		select {
		case <-o.stop:
			for {
				select {
				case p := <-o.ops:
					p.done <- ErrClosed
				default:
					return
				}
			}
		case p := <-o.ops:
			batch := []*op{p}
			n := len(p.appends) + len(p.acks)
		more:
			for n < o.cfg.MaxBatch {
				select {
				case q := <-o.ops:
					batch = append(batch, q)
					n += len(q.appends) + len(q.acks)
				default:
					break more
				}
			}
			o.commit(batch)
		}
	}
}

// batchTxn is a write transaction that splits itself when badger says it
// grew too big.
type batchTxn struct {
	db  *badger.DB
	txn *badger.Txn
}

func (b *batchTxn) set(e *badger.Entry) error {
	err := b.txn.SetEntry(e)
	if errors.Is(err, badger.ErrTxnTooBig) {
		if err := b.txn.Commit(); err != nil {
			return err
		}
		b.txn = b.db.NewTransaction(true)
		err = b.txn.SetEntry(e)
	}
	return err
}

func (b *batchTxn) del(k []byte) error {
	err := b.txn.Delete(k)
	if errors.Is(err, badger.ErrTxnTooBig) {
		if err := b.txn.Commit(); err != nil {
			return err
		}
		b.txn = b.db.NewTransaction(true)
		err = b.txn.Delete(k)
	}
	return err
}

func (o *Outbox) commit(batch []*op) {
	lowDisk := o.lowDisk()
	bt := &batchTxn{db: o.db, txn: o.db.NewTransaction(true)}
	results := make([]error, len(batch))
	o.stagedAppends, o.stagedAcks = 0, 0
	err := o.stage(bt, batch, results, lowDisk)
	if err == nil {
		err = bt.txn.Commit()
	} else {
		bt.txn.Discard()
	}
	if err != nil {
		// The disk and the index may now disagree: rebuild from disk.
		err = fmt.Errorf("outbox commit: %w", err)
		o.log.Error("commit failed; rebuilding index from disk", "err", err)
		o.reset()
		if rerr := o.recover(); rerr != nil {
			o.log.Error("rebuild failed", "err", rerr)
		}
		for i := range results {
			results[i] = err
		}
	} else {
		o.commits.Add(1)
		o.appended.Add(o.stagedAppends)
		o.acked.Add(o.stagedAcks)
	}
	o.publishDests()
	for i, p := range batch {
		p.done <- results[i]
	}
}

// stage writes the batch into bt and updates the index; on error the
// caller rebuilds the index.
func (o *Outbox) stage(bt *batchTxn, batch []*op, results []error, lowDisk bool) error {
	now := o.cfg.Now()
	for i, p := range batch {
		for _, id := range p.acks {
			if err := o.ackOne(bt, id); err != nil {
				return err
			}
		}
		for _, seq := range p.ackSeqs {
			if e, ok := o.bySeq[seq]; ok {
				if err := o.ackOne(bt, e.id); err != nil {
					return err
				}
			}
		}
		if len(p.appends) == 0 {
			continue
		}
		if lowDisk {
			o.diskFull.Add(1)
			results[i] = fmt.Errorf("%w: less than %d bytes free under %s", ErrDiskFull, o.cfg.MinFreeDisk, o.cfg.Dir)
			continue
		}
		for j := range p.appends {
			m := p.appends[j]
			dup, err := o.known(bt.txn, m.ID)
			if err != nil {
				return err
			}
			if dup {
				o.dupes.Add(1)
				continue
			}
			if err := o.makeRoom(bt, m.size()); err != nil {
				return err
			}
			if m.Created.IsZero() {
				m.Created = now
			}
			m.Seq = o.nextSeq
			o.nextSeq++
			if err := bt.set(badger.NewEntry(msgKey(m.Seq), encode(&m))); err != nil {
				return err
			}
			if err := bt.set(badger.NewEntry(destKey(m.Dest, m.Seq), nil)); err != nil {
				return err
			}
			o.index(&entry{seq: m.Seq, id: m.ID, dest: m.Dest, size: m.size()})
			o.stagedAppends++
		}
	}
	if lowDisk {
		if err := o.dropOldest(bt, o.bytes.Load()/10+1); err != nil {
			return err
		}
	}
	// The high-water mark keeps sequence numbers increasing across
	// restarts even when every message was acknowledged (receivers drop
	// numbers they have seen).
	if o.nextSeq != o.savedSeq {
		if err := bt.set(badger.NewEntry([]byte(seqKey), binary.BigEndian.AppendUint64(nil, o.nextSeq))); err != nil {
			return err
		}
		o.savedSeq = o.nextSeq
	}
	return nil
}

// known reports whether id is pending or was acknowledged recently.
func (o *Outbox) known(txn *badger.Txn, id string) (bool, error) {
	if _, ok := o.pending[id]; ok {
		return true, nil
	}
	_, err := txn.Get(ackedKey(id))
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, badger.ErrKeyNotFound):
		return false, nil
	default:
		return false, err
	}
}

func (o *Outbox) ackOne(bt *batchTxn, id string) error {
	e, ok := o.pending[id]
	if !ok {
		return nil
	}
	if err := o.remove(bt, e); err != nil {
		return err
	}
	o.stagedAcks++
	return bt.set(badger.NewEntry(ackedKey(id), nil).WithTTL(o.cfg.DedupeWindow))
}

// makeRoom drops the oldest messages until size more bytes fit.
func (o *Outbox) makeRoom(bt *batchTxn, size int64) error {
	over := o.bytes.Load() + size - o.cfg.MaxBytes
	if over <= 0 {
		return nil
	}
	return o.dropOldest(bt, over)
}

func (o *Outbox) dropOldest(bt *batchTxn, atLeast int64) error {
	var freed, n int64
	for freed < atLeast {
		e := o.popOldest()
		if e == nil {
			break
		}
		if err := o.remove(bt, e); err != nil {
			return err
		}
		freed += e.size
		n++
	}
	if n > 0 {
		o.dropped.Add(n)
		o.log.Warn("outbox full; dropped oldest messages", "dropped", n, "bytes", freed, "totalDropped", o.dropped.Load())
	}
	return nil
}

func (o *Outbox) remove(bt *batchTxn, e *entry) error {
	if err := bt.del(msgKey(e.seq)); err != nil {
		return err
	}
	if err := bt.del(destKey(e.dest, e.seq)); err != nil {
		return err
	}
	delete(o.pending, e.id)
	delete(o.bySeq, e.seq)
	d := o.dests[e.dest]
	d.Messages--
	d.Bytes -= e.size
	if d.Messages == 0 {
		delete(o.dests, e.dest)
	} else {
		o.dests[e.dest] = d
	}
	o.n.Add(-1)
	o.bytes.Add(-e.size)
	return nil
}

func (o *Outbox) index(e *entry) {
	o.pending[e.id] = e
	o.bySeq[e.seq] = e
	o.queue = append(o.queue, e)
	d := o.dests[e.dest]
	d.Messages++
	d.Bytes += e.size
	o.dests[e.dest] = d
	o.n.Add(1)
	o.bytes.Add(e.size)
}

// popOldest returns the oldest pending entry, skipping acknowledged ones.
func (o *Outbox) popOldest() *entry {
	for o.head < len(o.queue) {
		e := o.queue[o.head]
		o.queue[o.head] = nil
		o.head++
		if o.head > 1024 && o.head*2 > len(o.queue) {
			o.queue = append([]*entry(nil), o.queue[o.head:]...)
			o.head = 0
		}
		if cur, ok := o.pending[e.id]; ok && cur == e {
			return e
		}
	}
	return nil
}

func (o *Outbox) reset() {
	o.pending = map[string]*entry{}
	o.bySeq = map[uint64]*entry{}
	o.dests = map[string]Pending{}
	o.queue, o.head = nil, 0
	o.n.Store(0)
	o.bytes.Store(0)
}
