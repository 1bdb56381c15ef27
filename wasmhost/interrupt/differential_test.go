package interrupt

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"
)

// The differential tests run real modules as built and as instrumented and
// require the same observable results.

// runCommand runs a WASI command module's _start with args and returns its
// stdout and exit code.
func runCommand(t *testing.T, cfg wazero.RuntimeConfig, wasm []byte, args ...string) (string, uint32) {
	t.Helper()
	ctx := context.Background()
	rt := wazero.NewRuntimeWithConfig(ctx, cfg)
	defer rt.Close(ctx)
	wasi_snapshot_preview1.MustInstantiate(ctx, rt)
	var stdout bytes.Buffer
	mcfg := wazero.NewModuleConfig().WithStdout(&stdout).WithArgs(append([]string{"prog"}, args...)...)
	_, err := rt.InstantiateWithConfig(ctx, wasm, mcfg)
	var exit *sys.ExitError
	switch {
	case err == nil:
		return stdout.String(), 0
	case errors.As(err, &exit):
		return stdout.String(), exit.ExitCode()
	}
	t.Fatalf("run command: %v", err)
	return "", 0
}

func TestDifferentialCommands(t *testing.T) {
	cases := []struct {
		name   string
		wasm   func(t *testing.T) []byte
		interp bool // run on the interpreter instead of the compiler
	}{
		{name: "c -O2", wasm: func(t *testing.T) []byte { return clangWasm(t, "mix.c", "-O2") }},
		{name: "c -O2 interpreter", wasm: func(t *testing.T) []byte { return clangWasm(t, "mix.c", "-O2") }, interp: true},
		{name: "c -O0 -g (DWARF)", wasm: func(t *testing.T) []byte { return clangWasm(t, "mix.c", "-O0", "-g") }},
		{name: "c -O2 post-MVP", wasm: func(t *testing.T) []byte {
			return clangWasm(t, "mix.c", "-O2", "-msimd128", "-mbulk-memory", "-msign-ext", "-mnontrapping-fptoint")
		}},
		{name: "go wasip1", wasm: func(t *testing.T) []byte { return goProgram(t) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			wasm := c.wasm(t)
			out, err := Instrument(wasm)
			if err != nil {
				t.Fatalf("Instrument: %v", err)
			}
			cfg := realModuleConfig()
			if c.interp {
				cfg = wazero.NewRuntimeConfigInterpreter()
			}
			wantOut, wantCode := runCommand(t, cfg, wasm)
			gotOut, gotCode := runCommand(t, cfg, out)
			if wantOut == "" {
				t.Fatalf("original module printed nothing (exit %d)", wantCode)
			}
			if gotOut != wantOut || gotCode != wantCode {
				t.Fatalf("instrumented: exit %d, output\n%s\nwant exit %d, output\n%s", gotCode, gotOut, wantCode, wantOut)
			}
		})
	}
}

// TestDifferentialReactor calls the exports of a C reactor with the same
// arguments on the original and the instrumented module.
func TestDifferentialReactor(t *testing.T) {
	for _, flags := range [][]string{
		{"-O2"},
		{"-O2", "-msimd128", "-mbulk-memory", "-msign-ext", "-mnontrapping-fptoint"},
	} {
		t.Run(fmt.Sprint(flags), func(t *testing.T) {
			wasm := clangWasm(t, "reactor.c", append(flags, "-mexec-model=reactor")...)
			out, err := Instrument(wasm)
			if err != nil {
				t.Fatalf("Instrument: %v", err)
			}
			orig, _ := instantiateReactor(t, wasm, false)
			inst, flag := instantiateReactor(t, out, true)
			calls := []struct {
				fn   string
				args []uint64
			}{
				{"fib", []uint64{20}},
				{"collatz", []uint64{837799}},
				{"collatz", []uint64{1 << 40}},
				{"fill", []uint64{7, 60000}},
				{"crc32", []uint64{60000}},
				{"histogram", []uint64{60000}},
				{"dot", []uint64{1000}},
				{"fill", []uint64{99, 1024}},
				{"dot", []uint64{1024}},
			}
			for _, c := range calls {
				want, err1 := orig.ExportedFunction(c.fn).Call(context.Background(), c.args...)
				got, err2 := inst.ExportedFunction(c.fn).Call(context.Background(), c.args...)
				if err1 != nil || err2 != nil {
					t.Fatalf("%s%v: original error %v, instrumented error %v", c.fn, c.args, err1, err2)
				}
				if fmt.Sprint(got) != fmt.Sprint(want) {
					t.Fatalf("%s%v = %v instrumented, %v original", c.fn, c.args, got, want)
				}
			}
			if !bytes.Equal(memoryOf(orig), memoryOf(inst)) {
				t.Fatal("memories differ after the same calls")
			}
			// The instrumented reactor can be stopped in its infinite loop.
			callInterrupted(t, flag, inst.ExportedFunction("spin"))
		})
	}
}

func memoryOf(m api.Module) []byte {
	b, _ := m.Memory().Read(0, m.Memory().Size())
	return b
}

// instantiateReactor instantiates a WASI reactor and runs _initialize.
func instantiateReactor(t testing.TB, wasm []byte, instrumented bool) (api.Module, *Flag) {
	t.Helper()
	ctx := context.Background()
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigCompiler())
	t.Cleanup(func() { rt.Close(ctx) })
	wasi_snapshot_preview1.MustInstantiate(ctx, rt)
	mod, err := rt.InstantiateWithConfig(ctx, wasm, wazero.NewModuleConfig().WithStartFunctions("_initialize"))
	if err != nil {
		t.Fatalf("instantiate reactor: %v", err)
	}
	if !instrumented {
		return mod, nil
	}
	flag, err := NewFlag(mod)
	if err != nil {
		t.Fatal(err)
	}
	return mod, flag
}

// TestInterruptRealCommands stops C and Go programs spinning in _start.
func TestInterruptRealCommands(t *testing.T) {
	cases := []struct {
		name string
		wasm func(t *testing.T) []byte
	}{
		{"c", func(t *testing.T) []byte { return clangWasm(t, "mix.c", "-O2") }},
		{"go", func(t *testing.T) []byte { return goProgram(t) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, err := Instrument(c.wasm(t))
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			rt := wazero.NewRuntimeWithConfig(ctx, realModuleConfig())
			defer rt.Close(ctx)
			wasi_snapshot_preview1.MustInstantiate(ctx, rt)
			cfg := wazero.NewModuleConfig().WithArgs("prog", "spin").WithStartFunctions()
			mod, err := rt.InstantiateWithConfig(ctx, out, cfg)
			if err != nil {
				t.Fatal(err)
			}
			flag, err := NewFlag(mod)
			if err != nil {
				t.Fatal(err)
			}
			callInterrupted(t, flag, mod.ExportedFunction("_start"))
		})
	}
}

// TestDifferentialHandWritten compares the hand-written module's functions
// as written and instrumented, with arguments large enough that the loops
// and the call counters pass through their yields many times.
func TestDifferentialHandWritten(t *testing.T) {
	ctx := context.Background()
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigCompiler())
	defer rt.Close(ctx)
	orig, err := rt.InstantiateWithConfig(ctx, loopsModule(), wazero.NewModuleConfig().WithName("orig"))
	if err != nil {
		t.Fatal(err)
	}
	inst, _ := instantiate(t, wazero.NewRuntimeConfigCompiler(), loopsModule())
	calls := []struct {
		fn  string
		arg uint64
	}{
		{"sum", 100_000}, {"fib", 22}, {"tree", 14}, {"ping", 5000}, {"nested", 300},
		{"countdown", 50_000}, {"exitboth", 50_000}, {"exitboth", 1}, {"fibpair", 20},
	}
	for _, c := range calls {
		want, err1 := orig.ExportedFunction(c.fn).Call(ctx, c.arg)
		got, err2 := inst.ExportedFunction(c.fn).Call(ctx, c.arg)
		if err1 != nil || err2 != nil {
			t.Fatalf("%s(%d): original error %v, instrumented error %v", c.fn, c.arg, err1, err2)
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("%s(%d) = %v instrumented, %v original", c.fn, c.arg, got, want)
		}
	}
}
