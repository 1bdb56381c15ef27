package interrupt

import (
	"context"
	"sort"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// The overhead benchmarks call the same module through raw wazero (compiler
// engine), as written and instrumented with the flag never raised, in pairs
// of back-to-back calls, and report the median ratio (instrumented/raw).

// benchVariants are the ways a module is run: as written, as Instrument
// rewrites it ("instrumented"), with the flag checked at every iteration and
// entry too ("eager"), and the cheaper forms that never yield to Go and can
// therefore deadlock the process (see yieldSequence): the flag check alone
// with the trap in the else-arm ("flag-only") or the then-arm ("then-trap").
var benchVariants = []struct {
	name string
	form form
	raw  bool
}{
	{name: "raw", raw: true},
	{name: "instrumented", form: formDefault},
	{name: "eager", form: formEager},
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

// BenchmarkOverhead calls the raw and the instrumented module alternately in
// each iteration and reports both times and their ratio, so that load from
// other processes hits both sides alike. ns/op is the pair.
func BenchmarkOverhead(b *testing.B) {
	const n = 10_000_000
	cases := []struct {
		name      string
		fn        string
		arg, want uint64
	}{
		{"sum1e7", "sum", n, n * (n - 1) / 2},
		{"fib25", "fib", 25, 75025},
		{"nested1000", "nested", 1000, nestedWant(1000)},
	}
	for _, c := range cases {
		for _, v := range benchVariants[1:] {
			b.Run(c.name+"/"+v.name, func(b *testing.B) {
				overhead(b, c.fn, c.arg, c.want, v.form)
			})
		}
	}
}

// overhead runs fn(arg) on the raw and the instrumented (form f) module
// alternately and reports the medians and their ratio.
func overhead(b *testing.B, fn string, arg, want uint64, f form) {
	ctx := context.Background()
	raw := benchModule(b, true, form{}).ExportedFunction(fn)
	inst := benchModule(b, false, f).ExportedFunction(fn)
	var pairs []pair
	for b.Loop() {
		var p pair
		for i, f := range []api.Function{raw, inst} {
			start := time.Now()
			res, err := f.Call(ctx, arg)
			p[i] = time.Since(start)
			if err != nil || res[0] != want {
				b.Fatalf("%s(%d) = %v, %v; want %d", fn, arg, res, err, want)
			}
		}
		pairs = append(pairs, p)
	}
	reportPairs(b, pairs)
}

// pair is the time of one raw and one instrumented call made back to back.
type pair [2]time.Duration

// reportPairs reports the medians of the raw and the instrumented time and
// the median of the per-pair ratios, which a burst of load on the shared
// machine moves far less than a ratio of totals.
func reportPairs(b *testing.B, pairs []pair) {
	raws := make([]float64, len(pairs))
	insts := make([]float64, len(pairs))
	ratios := make([]float64, len(pairs))
	for i, p := range pairs {
		raws[i], insts[i] = float64(p[0]), float64(p[1])
		ratios[i] = insts[i] / raws[i]
	}
	b.ReportMetric(median(raws), "raw-ns/call")
	b.ReportMetric(median(insts), "instrumented-ns/call")
	b.ReportMetric(median(ratios), "ratio")
}

func median(xs []float64) float64 {
	sort.Float64s(xs)
	return xs[len(xs)/2]
}

func nestedWant(n int) uint64 {
	var want uint32
	for i := 0; i < n; i++ {
		for j := 0; j < n; j++ {
			want += uint32(i ^ j)
		}
	}
	return uint64(want)
}

// BenchmarkInstrument measures Instrument itself on real modules (MB/s of
// input): the Go program of the differential tests (GOOS=wasip1, about 2 MB)
// and the C reactor.
func BenchmarkInstrument(b *testing.B) {
	for _, c := range []struct {
		name string
		wasm func(b *testing.B) []byte
	}{
		{"go", func(b *testing.B) []byte { return goProgram(b) }},
		{"c", func(b *testing.B) []byte { return clangWasm(b, "reactor.c", "-O2", "-mexec-model=reactor") }},
	} {
		b.Run(c.name, func(b *testing.B) {
			wasm := c.wasm(b)
			b.SetBytes(int64(len(wasm)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Instrument(wasm); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkOverheadC is BenchmarkOverhead on functions of the C reactor
// (clang -O2): crc32 and a histogram over 60000 bytes, Collatz steps.
func BenchmarkOverheadC(b *testing.B) {
	wasm := clangWasm(b, "reactor.c", "-O2", "-mexec-model=reactor")
	out, err := Instrument(wasm)
	if err != nil {
		b.Fatal(err)
	}
	raw, _ := instantiateReactor(b, wasm, false)
	inst, _ := instantiateReactor(b, out, true)
	ctx := context.Background()
	for _, m := range []api.Module{raw, inst} {
		if _, err := m.ExportedFunction("fill").Call(ctx, 7, 60000); err != nil {
			b.Fatal(err)
		}
	}
	for _, c := range []struct {
		name string
		fn   string
		arg  uint64
	}{
		{"crc32", "crc32", 60000}, {"histogram", "histogram", 60000}, {"collatz", "collatz", 1<<40 - 1},
	} {
		b.Run(c.name, func(b *testing.B) {
			var pairs []pair
			for b.Loop() {
				var p pair
				var results [2]uint64
				for i, m := range []api.Module{raw, inst} {
					start := time.Now()
					res, err := m.ExportedFunction(c.fn).Call(ctx, c.arg)
					p[i] = time.Since(start)
					if err != nil {
						b.Fatal(err)
					}
					results[i] = res[0]
				}
				if results[0] != results[1] {
					b.Fatalf("%s: raw %d, instrumented %d", c.fn, results[0], results[1])
				}
				pairs = append(pairs, p)
			}
			reportPairs(b, pairs)
		})
	}
}
