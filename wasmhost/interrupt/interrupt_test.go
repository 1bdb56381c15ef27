package interrupt

import (
	"context"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// engines are the wazero engines the interrupt must work on: the compiler is
// what runs tasks on amd64 and arm64, the interpreter elsewhere.
var engines = []struct {
	name   string
	config func() wazero.RuntimeConfig
}{
	{"compiler", wazero.NewRuntimeConfigCompiler},
	{"interpreter", wazero.NewRuntimeConfigInterpreter},
}

// instantiate instruments wasm, instantiates it on a fresh runtime and returns
// the module and its flag. The runtime is closed when the test ends.
func instantiate(t testing.TB, cfg wazero.RuntimeConfig, wasm []byte) (api.Module, *Flag) {
	t.Helper()
	ctx := context.Background()
	out, err := Instrument(wasm)
	if err != nil {
		t.Fatalf("Instrument: %v", err)
	}
	rt := wazero.NewRuntimeWithConfig(ctx, cfg)
	t.Cleanup(func() { rt.Close(ctx) })
	mod, err := rt.Instantiate(ctx, out)
	if err != nil {
		t.Fatalf("instantiate instrumented module: %v", err)
	}
	flag, err := NewFlag(mod)
	if err != nil {
		t.Fatalf("NewFlag: %v", err)
	}
	return mod, flag
}

// callInterrupted calls fn with args, raises the flag from a timer goroutine
// after a short while, and checks that the call returns with an interrupt.
// The only bound is a generous liveness guard: the call must return at all.
func callInterrupted(t *testing.T, flag *Flag, fn api.Function, args ...uint64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	stop := flag.RaiseWhenDone(ctx)
	defer stop()
	type result struct {
		res []uint64
		err error
	}
	done := make(chan result, 1)
	go func() {
		res, err := fn.Call(context.Background(), args...)
		done <- result{res, err}
	}()
	select {
	case r := <-done:
		if r.err == nil {
			t.Fatalf("%s returned %v; want an interrupt", fn.Definition().Name(), r.res)
		}
		if !flag.Interrupted(r.err) {
			t.Fatalf("%s: error %v is not an interrupt (flag raised: %v)", fn.Definition().Name(), r.err, flag.Raised())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("%s did not stop 30s after the flag was raised", fn.Definition().Name())
	}
}

func TestInterruptStopsRunawayCode(t *testing.T) {
	cases := []struct {
		name string
		fn   string
		args []uint64
	}{
		{"infinite loop", "spin", nil},
		{"long tight loop", "sum", []uint64{1 << 62}},
		{"call tree without loops", "tree", []uint64{60}},
		{"recursive fib without loops", "fib", []uint64{80}},
		{"loop growing memory", "grow", nil},
		{"nested loops", "nested", []uint64{1 << 30}},
		{"loop with a parameter", "countdown", []uint64{0}}, // 2^32 iterations
		{"br_table out of two loops", "exitboth", []uint64{0xffffffff}},
		{"loop calling a short loop", "callsum", nil},
	}
	// Compiler only: with the interpreter, raising the flag during a call is
	// a data race (see Flag); TestRaisedFlagStopsNextCalls covers it.
	for _, e := range engines[:1] {
		t.Run(e.name, func(t *testing.T) {
			mod, flag := instantiate(t, e.config(), loopsModule())
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					flag.Reset()
					callInterrupted(t, flag, mod.ExportedFunction(c.fn), c.args...)
					// After Reset the same instance runs normally again.
					flag.Reset()
					res, err := mod.ExportedFunction("fib").Call(context.Background(), 10)
					if err != nil || res[0] != 55 {
						t.Fatalf("fib(10) after reset = %v, %v; want 55", res, err)
					}
				})
			}
		})
	}
}

// TestRaisedFlagStopsNextCalls checks that a flag raised between calls stops
// the next long call (at its first yield) until it is reset.
func TestRaisedFlagStopsNextCalls(t *testing.T) {
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			mod, flag := instantiate(t, e.config(), loopsModule())
			flag.Raise()
			if !flag.Raised() {
				t.Fatal("Raised() = false after Raise")
			}
			for _, c := range []struct {
				fn  string
				arg uint64
			}{{"sum", 1 << 62}, {"tree", 60}, {"countdown", 0}} {
				_, err := mod.ExportedFunction(c.fn).Call(context.Background(), c.arg)
				if !flag.Interrupted(err) {
					t.Fatalf("%s(%d) with the flag raised: err = %v; want an interrupt", c.fn, c.arg, err)
				}
			}
			flag.Reset()
			if flag.Raised() {
				t.Fatal("Raised() = true after Reset")
			}
			res, err := mod.ExportedFunction("fib").Call(context.Background(), 20)
			if err != nil || res[0] != 6765 {
				t.Fatalf("fib(20) after Reset = %v, %v; want 6765", res, err)
			}
		})
	}
}

func TestGenuineTrapIsNotInterrupt(t *testing.T) {
	wasm := testModule{
		types: [][]byte{functype(nil, nil)},
		funcs: []testFunc{{typ: 0, export: "trap", body: []byte{0x00}}},
	}.bytes()
	mod, flag := instantiate(t, wazero.NewRuntimeConfigCompiler(), wasm)
	_, err := mod.ExportedFunction("trap").Call(context.Background())
	if err == nil {
		t.Fatal("trap returned no error")
	}
	if !IsUnreachableTrap(err) {
		t.Fatalf("IsUnreachableTrap(%v) = false", err)
	}
	if flag.Interrupted(err) {
		t.Fatalf("genuine trap %v reported as an interrupt with the flag down", err)
	}
}

func TestNewFlagRejectsPlainModule(t *testing.T) {
	ctx := context.Background()
	rt := wazero.NewRuntime(ctx)
	defer rt.Close(ctx)
	mod, err := rt.Instantiate(ctx, loopsModule())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewFlag(mod); err == nil {
		t.Fatal("NewFlag on an uninstrumented module succeeded")
	}
}
