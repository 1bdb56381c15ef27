//go:build !wasip1

// Package tasktest builds the example tasks and runs them in wasmhost, the
// sandbox canopy runs tasks in on a device, so that the examples' tests
// exercise them as a fleet does: real modules, real wazero, a badger KV
// store on disk that survives a restart.
package tasktest

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// examplesDir is the root of the examples module.
func examplesDir(t testing.TB) string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("tasktest: cannot locate the examples directory")
	}
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// built holds the modules BuildGo made, by directory: one build per test
// binary.
var built sync.Map // string -> []byte

// BuildGo builds the Go task in dir (relative to the test's working
// directory) with the build line of examples/Makefile and returns the
// module's bytes. It builds once per test binary.
func BuildGo(t testing.TB, dir string) []byte {
	t.Helper()
	if b, ok := built.Load(dir); ok {
		return b.([]byte)
	}
	out := filepath.Join(t.TempDir(), "task.wasm")
	cmd := exec.Command("go", "build", "-buildmode=c-shared", "-o", out, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build %s: %v\n%s", dir, err, msg)
	}
	b := readFile(t, out)
	built.Store(dir, b)
	return b
}

// BuildC compiles the C sources of a task with clang and wasi-libc as a
// WASI reactor, with sdk/c on the include path, and returns the module's
// bytes. Without clang the test is skipped, unless CI=true, where it fails:
// CI must build every example.
func BuildC(t testing.TB, srcs ...string) []byte {
	t.Helper()
	clang, err := exec.LookPath("clang")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("clang not found (CI=true, so this is an error): %v; run .ci/deps", err)
		}
		t.Skipf("clang not found: %v (install clang, lld and wasi-libc, or run .ci/deps)", err)
	}
	out := filepath.Join(t.TempDir(), "task.wasm")
	args := []string{"--target=wasm32-wasi", "-O2", "-mexec-model=reactor", "-Wall", "-Wextra", "-Werror",
		"-I" + filepath.Join(examplesDir(t), "..", "sdk", "c"), "-o", out}
	cmd := exec.Command(clang, append(args, srcs...)...)
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("clang %s: %v\n%s", strings.Join(srcs, " "), err, msg)
	}
	return readFile(t, out)
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
