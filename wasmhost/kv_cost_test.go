package wasmhost

import (
	"errors"
	"fmt"
	"testing"

	"github.com/dgraph-io/badger/v4"
)

// TestKVEntryCost: many tiny entries are bounded by the quota too, each
// counting kvEntryCost besides its bytes.
func TestKVEntryCost(t *testing.T) {
	db, err := badger.Open(badger.DefaultOptions("").WithInMemory(true).WithLogger(nil))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s := newKVSpace(db, "tiny", 1024)
	n := 0
	for ; n < 10000; n++ {
		err := s.set([]byte(fmt.Sprintf("%04d", n)), nil)
		if errors.Is(err, errQuota) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if want := 1024 / (4 + kvEntryCost); n != want {
		t.Fatalf("%d empty entries fit in 1KiB, want %d", n, want)
	}
}
