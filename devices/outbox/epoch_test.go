package outbox_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dgraph-io/badger/v4"

	"github.com/canopy-fleet/canopy/devices/outbox"
)

func epochOf(t *testing.T, dir string) uint64 {
	t.Helper()
	o, err := outbox.Open(outbox.Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	if k := o.Kernel().Epoch(); k != o.Epoch() {
		t.Fatalf("kernel view epoch %x, outbox epoch %x", k, o.Epoch())
	}
	return o.Epoch()
}

// The epoch is created with the directory, kept across Close and Open
// (with the messages), and new once the directory is wiped; sequence
// numbers start again with it.
func TestEpochPersistsAndRenewsWithTheDirectory(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "outbox")
	o, err := outbox.Open(outbox.Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	first := o.Epoch()
	if first == 0 {
		t.Fatal("epoch 0")
	}
	for _, id := range []string{"a", "b", "c"} {
		if err := o.Append(ctx, msg(id, "cloud", "x")); err != nil {
			t.Fatal(err)
		}
	}
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if e := epochOf(t, dir); e != first {
			t.Fatalf("reopened: epoch %x, want %x", e, first)
		}
	}

	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	o = open(t, outbox.Config{Dir: dir})
	if o.Epoch() == first || o.Epoch() == 0 {
		t.Fatalf("wiped directory: epoch %x, want a new one (was %x)", o.Epoch(), first)
	}
	if err := o.Append(ctx, msg("a", "cloud", "x")); err != nil {
		t.Fatal(err)
	}
	got, err := o.Kernel().Peek(ctx, 10)
	if err != nil || len(got) != 1 || got[0].ID != 0 {
		t.Fatalf("wiped directory: peek %+v %v, want one message with ID 0", got, err)
	}
	if other := epochOf(t, t.TempDir()); other == o.Epoch() || other == first {
		t.Fatalf("two directories share epoch %x", other)
	}
}

// setKey writes (or, with a nil value, deletes) a key of a closed outbox
// with badger directly.
func setKey(t *testing.T, dir, key string, value []byte) {
	t.Helper()
	db, err := badger.Open(badger.DefaultOptions(dir).WithLogger(nil))
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(txn *badger.Txn) error {
		if value == nil {
			return txn.Delete([]byte(key))
		}
		return txn.Set([]byte(key), value)
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
}

// An outbox made before epochs existed gets one on its next Open, keeps
// its messages, and keeps that epoch afterwards.
func TestEpochAddedToAnOlderOutbox(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	o, err := outbox.Open(outbox.Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	old := o.Epoch()
	if err := o.Append(ctx, msg("keep", "cloud", "x")); err != nil {
		t.Fatal(err)
	}
	o.Close()
	setKey(t, dir, "_epoch", nil)
	e := epochOf(t, dir)
	if e == 0 || e == old {
		t.Fatalf("epoch %x after losing %x, want a new one", e, old)
	}
	o = open(t, outbox.Config{Dir: dir})
	if o.Epoch() != e || o.Len() != 1 {
		t.Fatalf("epoch %x with %d messages, want %x with 1", o.Epoch(), o.Len(), e)
	}
}

// A damaged epoch record is refused on one line, not replaced.
func TestEpochDamagedRefused(t *testing.T) {
	for _, tc := range []struct {
		name  string
		value []byte
		want  string
	}{
		{"short", []byte{1, 2, 3}, "epoch record of 3 bytes"},
		{"zero", make([]byte, 8), "epoch record holds 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			epochOf(t, dir)
			setKey(t, dir, "_epoch", tc.value)
			_, err := outbox.Open(outbox.Config{Dir: dir})
			if !errors.Is(err, outbox.ErrDamaged) || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("Open = %v, want one-line ErrDamaged containing %q", err, tc.want)
			}
			setKey(t, dir, "_epoch", []byte{0, 0, 0, 0, 0, 0, 0, 7}) // left untouched, so repairable
			if e := epochOf(t, dir); e != 7 {
				t.Fatalf("epoch %x, want 7", e)
			}
		})
	}
}
