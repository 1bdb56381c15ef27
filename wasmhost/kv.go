package wasmhost

import (
	"errors"
	"fmt"

	"github.com/dgraph-io/badger/v4"
)

// maxKeyLen is the longest KV key a task may use; longer keys get -3.
const maxKeyLen = 1024

// kvEntryCost is what each entry counts against the quota besides its key
// and value: badger stores a header, the namespace prefix and a version with
// every entry, so a quota counted in key and value bytes alone would let
// many tiny entries take many times their quota on disk.
const kvEntryCost = 32

// kvSpace is one task's KV namespace in badger: keys are prefixed with
// "kv/", the task id and a NUL byte, and the sum of key and value bytes plus
// kvEntryCost per entry is bounded by the task's kv quota. The usage is counted on the first write
// (not at start: a start costs tens of µs, a scan a few) and kept up to date
// by set and delete; one instance of a task writes its namespace at a time.
type kvSpace struct {
	db      *badger.DB
	task    string
	prefix  []byte
	quota   int64
	used    int64
	counted bool
}

func newKVSpace(db *badger.DB, task string, quota int64) *kvSpace {
	return &kvSpace{db: db, task: task, prefix: append([]byte("kv/"+task), 0), quota: quota}
}

// count sums the namespace's usage once.
func (s *kvSpace) count() error {
	if s.counted {
		return nil
	}
	s.used = 0
	err := s.db.View(func(txn *badger.Txn) error {
		opts := badger.DefaultIteratorOptions
		opts.Prefix = s.prefix
		it := txn.NewIterator(opts)
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			item := it.Item()
			n, err := valueLen(item)
			if err != nil {
				return err
			}
			s.used += int64(len(item.Key())-len(s.prefix)) + n + kvEntryCost
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("kv namespace %s: %w", s.task, err)
	}
	s.counted = true
	return nil
}

func (s *kvSpace) key(k []byte) []byte {
	out := make([]byte, 0, len(s.prefix)+len(k))
	return append(append(out, s.prefix...), k...)
}

// get returns the value of k; errNotFound if none.
func (s *kvSpace) get(k []byte) ([]byte, error) {
	var val []byte
	err := s.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(s.key(k))
		if err != nil {
			return err
		}
		val, err = item.ValueCopy(nil)
		return err
	})
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, errNotFound
	}
	return val, err
}

// set stores v under k unless that would exceed the quota (errQuota).
func (s *kvSpace) set(k, v []byte) error {
	if err := s.count(); err != nil {
		return err
	}
	full := s.key(k)
	var delta int64
	err := s.db.Update(func(txn *badger.Txn) error {
		old := int64(0)
		if item, err := txn.Get(full); err == nil {
			n, err := valueLen(item)
			if err != nil {
				return err
			}
			old = int64(len(k)) + n + kvEntryCost
		} else if !errors.Is(err, badger.ErrKeyNotFound) {
			return err
		}
		delta = int64(len(k)+len(v)) + kvEntryCost - old
		if s.used+delta > s.quota {
			return errQuota
		}
		return txn.Set(full, append([]byte(nil), v...))
	})
	if err == nil {
		s.used += delta
	}
	return err
}

// delete removes k; errNotFound if it was not there.
func (s *kvSpace) delete(k []byte) error {
	if err := s.count(); err != nil {
		return err
	}
	full := s.key(k)
	var freed int64
	err := s.db.Update(func(txn *badger.Txn) error {
		item, err := txn.Get(full)
		if errors.Is(err, badger.ErrKeyNotFound) {
			return errNotFound
		} else if err != nil {
			return err
		}
		n, err := valueLen(item)
		if err != nil {
			return err
		}
		freed = int64(len(k)) + n + kvEntryCost
		return txn.Delete(full)
	})
	if err == nil {
		s.used -= freed
	}
	return err
}

var (
	errNotFound = errors.New("not found")
	errQuota    = errors.New("quota exceeded")
)

// valueLen is the exact length of item's value (Item.ValueSize is only an
// estimate for values kept in the value log).
func valueLen(item *badger.Item) (int64, error) {
	var n int64
	err := item.Value(func(v []byte) error { n = int64(len(v)); return nil })
	return n, err
}
