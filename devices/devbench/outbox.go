package devbench

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/canopy-fleet/canopy/devices/outbox"
)

// OutboxResult is appends per second with durability on.
type OutboxResult struct {
	Appends  int
	Elapsed  time.Duration
	Rate     float64
	Commits  int64 // group commits (fsyncs) for the outbox; appends for the baseline
	Recovery time.Duration
	Pending  int64
}

// OutboxAppends runs writers goroutines appending one 100-byte message per
// call for d into a fresh outbox under dir, then reopens it and reports the
// time Open took to rebuild the index of what is pending.
func OutboxAppends(ctx context.Context, dir string, writers int, d time.Duration) (OutboxResult, error) {
	return OutboxBatchAppends(ctx, dir, writers, 1, d)
}

// OutboxBatchAppends is OutboxAppends with batch messages per Append call
// (a task flushing several publishes at once); Appends counts messages.
func OutboxBatchAppends(ctx context.Context, dir string, writers, batch int, d time.Duration) (OutboxResult, error) {
	o, err := outbox.Open(outbox.Config{Dir: dir, MinFreeDisk: -1})
	if err != nil {
		return OutboxResult{}, err
	}
	payload := []byte(strings.Repeat("p", 100))
	var n atomic.Int64
	var firstErr error
	var once sync.Once
	deadline := time.Now().Add(d)
	start := time.Now()
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ms := make([]outbox.Message, batch)
			for i := 0; time.Now().Before(deadline) && ctx.Err() == nil; i++ {
				for j := range ms {
					ms[j] = outbox.Message{ID: fmt.Sprintf("w%d-%d-%d", w, i, j), Dest: fmt.Sprint("dest", w%4), Payload: payload}
				}
				if err := o.Append(ctx, ms...); err != nil {
					once.Do(func() { firstErr = err })
					return
				}
				n.Add(int64(batch))
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	res := OutboxResult{Appends: int(n.Load()), Elapsed: elapsed, Rate: float64(n.Load()) / elapsed.Seconds(), Commits: o.Stats().Commits}
	if err := o.Close(); err != nil {
		return res, err
	}
	if firstErr != nil {
		return res, firstErr
	}
	o, err = outbox.Open(outbox.Config{Dir: dir, MinFreeDisk: -1})
	if err != nil {
		return res, err
	}
	res.Recovery, res.Pending = o.Stats().Recovery, o.Len()
	return res, o.Close()
}

// BadgerAppends is the baseline: the same writers and messages written
// straight to badger with SyncWrites, one transaction (one fsync) per
// message — durability without group commit.
func BadgerAppends(ctx context.Context, dir string, writers int, d time.Duration) (OutboxResult, error) {
	db, err := badger.Open(badger.DefaultOptions(dir).WithSyncWrites(true).WithLogger(nil).WithMemTableSize(16 << 20).WithValueLogFileSize(64 << 20))
	if err != nil {
		return OutboxResult{}, err
	}
	defer db.Close()
	payload := []byte(strings.Repeat("p", 100))
	var n atomic.Int64
	deadline := time.Now().Add(d)
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; time.Now().Before(deadline) && ctx.Err() == nil; i++ {
				key := []byte(fmt.Sprintf("m/dest%d/w%d-%d", w%4, w, i))
				if err := db.Update(func(txn *badger.Txn) error { return txn.Set(key, payload) }); err != nil {
					errs <- err
					return
				}
				n.Add(1)
			}
		}()
	}
	wg.Wait()
	close(errs)
	elapsed := time.Since(start)
	res := OutboxResult{Appends: int(n.Load()), Elapsed: elapsed, Rate: float64(n.Load()) / elapsed.Seconds(), Commits: n.Load()}
	return res, <-errs
}

// TempDir makes a directory for a measurement; the caller removes it.
func TempDir(prefix string) (string, error) { return os.MkdirTemp("", prefix) }
