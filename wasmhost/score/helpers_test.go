package score

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/canopy-fleet/canopy/wasmhost"
)

// quick is a short measurement for tests: the structure, not the figure.
var quick = Config{Rounds: 3, RoundTime: DefaultRoundTime / 2}

// newHost is a real wasmhost Host, closed with the test.
func newHost(t testing.TB) *wasmhost.Host {
	t.Helper()
	ctx := context.Background()
	h, err := wasmhost.New(ctx, wasmhost.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close(ctx) })
	return h
}

// haveClang reports whether clang is on PATH. With CI=true a missing clang
// fails the test: CI must build the sources.
func haveClang(t *testing.T) bool {
	t.Helper()
	if _, err := exec.LookPath("clang"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("clang not found on PATH (CI=true needs it: install clang and wasi-libc)")
		}
		return false
	}
	return true
}

// buildC builds a reactor module from the C source src (relative to the
// package) with clang, as go generate does, into the test's temp dir.
func buildC(t *testing.T, src string, flags ...string) []byte {
	t.Helper()
	out := filepath.Join(t.TempDir(), "m.wasm")
	args := append([]string{"--target=wasm32-wasi", "-O2", "-mexec-model=reactor", "-Wl,--strip-all"}, flags...)
	args = append(args, "-o", out, src)
	if msg, err := exec.Command("clang", args...).CombinedOutput(); err != nil {
		t.Fatalf("clang %s: %v\n%s", src, err, msg)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// testModule returns a module of testdata: built from testdata/partial.c
// with flags when clang is on PATH, else the committed testdata/name.wasm.
func testModule(t *testing.T, name string, flags ...string) []byte {
	t.Helper()
	if haveClang(t) {
		return buildC(t, "testdata/partial.c", flags...)
	}
	b, err := os.ReadFile(filepath.Join("testdata", name+".wasm"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// instance instantiates wasm on h as the score task, closed with the test.
func instance(t *testing.T, h *wasmhost.Host, wasm []byte) *wasmhost.Instance {
	t.Helper()
	ctx := context.Background()
	m, err := h.Load(ctx, wasm)
	if err != nil {
		t.Fatal(err)
	}
	inst, err := h.Instantiate(ctx, m, wasmhost.TaskConfig{ID: TaskID, Limits: limits})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { inst.Close(ctx); m.Close(ctx) })
	return inst
}
