package interrupt

import (
	"context"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// The overhead benchmarks call the same module through raw wazero (compiler
// engine), once as written ("raw") and once instrumented with the flag never
// raised ("instrumented"). Compare with benchstat; the ratio is the cost of
// the checks.

// benchVariants are the ways a module is run: as written, as Instrument
// rewrites it, and the cheaper forms that do not yield to Go (which can hang
// the process, see yieldSequence), for comparison.
var benchVariants = []struct {
	name string
	form form
	raw  bool
}{
	{name: "raw", raw: true},
	{name: "instrumented", form: formDefault},
	{name: "flag-only", form: formFlagOnly},
	{name: "then-trap", form: formThenTrap},
}

func benchModule(b *testing.B, raw bool, f form) api.Module {
	b.Helper()
	ctx := context.Background()
	wasm := loopsModule()
	if !raw {
		var err error
		if wasm, err = instrumentForm(wasm, f); err != nil {
			b.Fatal(err)
		}
	}
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigCompiler())
	b.Cleanup(func() { rt.Close(ctx) })
	mod, err := rt.Instantiate(ctx, wasm)
	if err != nil {
		b.Fatal(err)
	}
	return mod
}

func benchCall(b *testing.B, fn string, arg, want uint64) {
	for _, v := range benchVariants {
		b.Run(v.name, func(b *testing.B) {
			f := benchModule(b, v.raw, v.form).ExportedFunction(fn)
			ctx := context.Background()
			for b.Loop() {
				res, err := f.Call(ctx, arg)
				if err != nil || res[0] != want {
					b.Fatalf("%s(%d) = %v, %v; want %d", fn, arg, res, err, want)
				}
			}
		})
	}
}

// BenchmarkSumLoop is a tight loop of 10^7 iterations.
func BenchmarkSumLoop(b *testing.B) {
	const n = 10_000_000
	benchCall(b, "sum", n, n*(n-1)/2)
}

// BenchmarkFib is naive recursive fib(25): about 250,000 calls, no loops.
func BenchmarkFib(b *testing.B) { benchCall(b, "fib", 25, 75025) }

// BenchmarkNestedLoops is two nested loops of 1000 iterations each.
func BenchmarkNestedLoops(b *testing.B) {
	want := uint64(0)
	for i := 0; i < 1000; i++ {
		for j := 0; j < 1000; j++ {
			want += uint64(i ^ j)
		}
	}
	benchCall(b, "nested", 1000, want&0xffffffff)
}
