package testmodules

import (
	"embed"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"sync"
)

//go:embed src/*.c src/*.h src/gotask.go.txt
var sources embed.FS

//go:embed wasm/*.wasm
var prebuilt embed.FS

// spec says how one C module is built.
type spec struct {
	src   string
	flags []string
}

var reactor = []string{"-mexec-model=reactor"}

var specs = map[string]spec{
	"guest":        {"guest.c", reactor},
	"bench":        {"bench.c", reactor},
	"job":          {"job.c", nil},
	"bad_noabi":    {"bad.c", append([]string{"-DBAD_NOABI"}, reactor...)},
	"bad_import":   {"bad.c", append([]string{"-DBAD_IMPORT", "-Wl,--allow-undefined"}, reactor...)},
	"bad_version":  {"bad.c", append([]string{"-DBAD_VERSION"}, reactor...)},
	"bad_initloop": {"bad.c", append([]string{"-DBAD_INITLOOP"}, reactor...)},
}

// Names lists the C modules.
func Names() []string {
	var out []string
	for n := range specs {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Prebuilt returns the committed build of a C module.
func Prebuilt(name string) ([]byte, error) {
	b, err := prebuilt.ReadFile("wasm/" + name + ".wasm")
	if err != nil {
		return nil, fmt.Errorf("no prebuilt module %q", name)
	}
	return b, nil
}

var (
	buildMu  sync.Mutex
	buildDir string
	built    = map[string][]byte{}
)

// Get returns a C module built from its source with clang when clang is on
// PATH (built once per process), or else the prebuilt copy. With CI=true a
// missing clang is an error: CI must test the sources.
func Get(name string) ([]byte, error) {
	if _, ok := specs[name]; !ok {
		return nil, fmt.Errorf("unknown test module %q", name)
	}
	if _, err := exec.LookPath("clang"); err != nil {
		if os.Getenv("CI") == "true" {
			return nil, errors.New("clang not found on PATH (CI=true needs it: install clang and wasi-libc)")
		}
		return Prebuilt(name)
	}
	buildMu.Lock()
	defer buildMu.Unlock()
	if b, ok := built[name]; ok {
		return b, nil
	}
	if buildDir == "" {
		d, err := os.MkdirTemp("", "canopy-testmodules-")
		if err != nil {
			return nil, err
		}
		if err := writeSources(d); err != nil {
			return nil, err
		}
		buildDir = d
	}
	out := filepath.Join(buildDir, name+".wasm")
	if err := BuildC(buildDir, name, out); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(out)
	if err != nil {
		return nil, err
	}
	built[name] = b
	return b, nil
}

// Cleanup removes the build directory Get made (call it from TestMain).
func Cleanup() {
	buildMu.Lock()
	defer buildMu.Unlock()
	if buildDir != "" {
		os.RemoveAll(buildDir)
		buildDir = ""
		built = map[string][]byte{}
	}
}

func writeSources(dir string) error {
	ents, err := sources.ReadDir("src")
	if err != nil {
		return err
	}
	for _, e := range ents {
		b, err := sources.ReadFile("src/" + e.Name())
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// BuildC compiles C module name from the sources in srcDir to out.
func BuildC(srcDir, name, out string) error {
	s, ok := specs[name]
	if !ok {
		return fmt.Errorf("unknown test module %q", name)
	}
	args := append([]string{"--target=wasm32-wasi", "-O2", "-Wl,--strip-all"}, s.flags...)
	args = append(args, "-o", out, filepath.Join(srcDir, s.src))
	cmd := exec.Command("clang", args...)
	if msg, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("clang %s: %w\n%s", s.src, err, msg)
	}
	return nil
}

// BuildGo builds the small Go task (a Go-SDK-sized reactor) with the go
// command into dir and returns its bytes. It needs the go command on PATH.
func BuildGo(dir string) ([]byte, error) {
	src, err := sources.ReadFile("src/gotask.go.txt")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "main.go"), src, 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module gotask\n\ngo 1.24\n"), 0o644); err != nil {
		return nil, err
	}
	cmd := exec.Command("go", "build", "-buildmode=c-shared", "-o", "gotask.wasm", ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "GOWORK=off", "GOFLAGS=")
	if msg, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go build gotask: %w\n%s", err, msg)
	}
	return os.ReadFile(filepath.Join(dir, "gotask.wasm"))
}
