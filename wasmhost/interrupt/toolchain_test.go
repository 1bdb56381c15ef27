package interrupt

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"

	"github.com/tetratelabs/wazero"
)

// Real modules for the differential tests and benchmarks, compiled from
// testdata by clang (wasi-libc) and by the Go toolchain into temporary
// directories.

// requireTool returns the path of an external tool. Without it the test
// fails when CI=true and is skipped otherwise.
func requireTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is required in CI: %v", name, err)
		}
		t.Skipf("%s not installed: %v", name, err)
	}
	return p
}

// clangWasm compiles testdata/src with clang --target=wasm32-wasi and flags.
func clangWasm(t testing.TB, src string, flags ...string) []byte {
	t.Helper()
	clang := requireTool(t, "clang")
	out := filepath.Join(t.TempDir(), "out.wasm")
	args := append([]string{"--target=wasm32-wasi"}, flags...)
	args = append(args, "-o", out, filepath.Join("testdata", src))
	cmd := exec.Command(clang, args...)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("clang %v: %v\n%s", args, err, b)
	}
	wasm, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return wasm
}

var goWasm struct {
	once sync.Once
	wasm []byte
	err  error
	log  []byte
}

// goProgram builds testdata/goprog with GOOS=wasip1 GOARCH=wasm, once per
// test binary.
func goProgram(t testing.TB) []byte {
	t.Helper()
	goWasm.once.Do(func() {
		dir, err := os.MkdirTemp("", "interrupt-goprog-")
		if err != nil {
			goWasm.err = err
			return
		}
		defer os.RemoveAll(dir)
		src, err := os.ReadFile(filepath.Join("testdata", "goprog", "main.go"))
		if err != nil {
			goWasm.err = err
			return
		}
		files := map[string]string{"main.go": string(src), "go.mod": "module goprog\n\ngo 1.24\n"}
		for name, body := range files {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
				goWasm.err = err
				return
			}
		}
		gobin := filepath.Join(runtime.GOROOT(), "bin", "go")
		cmd := exec.Command(gobin, "build", "-o", "prog.wasm", ".")
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "GOFLAGS=", "GOWORK=off")
		if goWasm.log, goWasm.err = cmd.CombinedOutput(); goWasm.err != nil {
			return
		}
		goWasm.wasm, goWasm.err = os.ReadFile(filepath.Join(dir, "prog.wasm"))
		if goWasm.err == nil {
			goWasm.err = keepCompiled(goWasm.wasm)
		}
	})
	if goWasm.err != nil {
		t.Fatalf("build Go program for wasip1: %v\n%s", goWasm.err, goWasm.log)
	}
	return goWasm.wasm
}

// realModules caches the compiled real modules, shared by every test that
// runs them: the Go program takes seconds to compile (tens under -race).
var realModules = wazero.NewCompilationCache()

// keepCompiled compiles wasm and its instrumented form into realModules on
// a runtime that stays open, so that they stay in the cache while test
// runtimes that use them come and go (wazero drops a compiled module from
// the cache when the last runtime holding it closes).
func keepCompiled(wasm []byte) error {
	out, err := Instrument(wasm)
	if err != nil {
		return err
	}
	ctx := context.Background()
	rt := wazero.NewRuntimeWithConfig(ctx, realModuleConfig())
	for _, w := range [][]byte{wasm, out} {
		if _, err := rt.CompileModule(ctx, w); err != nil {
			return err
		}
	}
	return nil
}

// realModuleConfig is the compiler engine with that cache.
func realModuleConfig() wazero.RuntimeConfig {
	return wazero.NewRuntimeConfigCompiler().WithCompilationCache(realModules)
}
