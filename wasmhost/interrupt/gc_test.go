package interrupt

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
)

// TestGarbageCollectionDuringRunawayCall runs a collection while compiled
// code spins. Go cannot preempt a goroutine inside wazero's compiled code, so
// without the yields Instrument adds, runtime.GC would wait for the spinning
// goroutine forever, every other goroutine stopped with it, and this test
// would hang (go test's -timeout then kills it). With them the collection
// finishes, and the flag raised afterwards stops the call.
func TestGarbageCollectionDuringRunawayCall(t *testing.T) {
	mod, flag := instantiate(t, wazero.NewRuntimeConfigCompiler(), loopsModule())
	for _, c := range []struct {
		fn  string
		arg []uint64
	}{
		{"spin", nil}, {"sum", []uint64{1 << 62}}, {"tree", []uint64{60}}, {"countdown", []uint64{0}},
		{"exitboth", []uint64{0xffffffff}}, {"callsum", nil},
	} {
		t.Run(c.fn, func(t *testing.T) {
			flag.Reset()
			done := make(chan error, 1)
			go func() {
				_, err := mod.ExportedFunction(c.fn).Call(context.Background(), c.arg...)
				done <- err
			}()
			time.Sleep(5 * time.Millisecond) // let the call get going; not a timing assertion
			for i := 0; i < 3; i++ {
				runtime.GC()
			}
			flag.Raise()
			select {
			case err := <-done:
				if !flag.Interrupted(err) {
					t.Fatalf("%s: %v; want an interrupt", c.fn, err)
				}
			case <-time.After(30 * time.Second):
				t.Fatalf("%s did not stop 30s after the flag was raised", c.fn)
			}
		})
	}
}
